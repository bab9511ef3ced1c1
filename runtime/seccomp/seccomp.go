// Package seccomp compiles a container's OCI seccomp profile
// (specs.LinuxSeccomp, as runc reads it from config.json) to a classic BPF
// program for seccomp(SECCOMP_SET_MODE_FILTER), in Go: hutch is a static
// binary, so libseccomp is not an option, and the pure-Go compilers at hand
// lack the masked-equal comparison that Docker's clone rule needs.
//
// The program, for x86_64 only:
//
//	arch != AUDIT_ARCH_X86_64          kill the process (i386 and the rest)
//	nr & 0x40000000 (the x32 ABI)      kill the process
//	nr == N, for each listed call      its rules, in the profile's order
//	anything else                      the profile's default action
//
// Docker's profile also allows i386 and x32 calls by name; hutch has only
// the x86_64 table, and refuses the other ABIs outright rather than guess
// (what libseccomp does with an architecture its filter lacks).
//
// Within one call, rules with argument conditions are tried first, in order;
// the first whose conditions all hold gives its action. Then a rule without
// conditions, if there is one; else the default action. Conditions on a rule
// are ANDed, except that a rule naming one argument twice is split into
// one rule per condition (ORed), as runc does. Names this table does not
// know (calls of other architectures or newer kernels) are skipped, as runc
// skips them.
package seccomp

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sort"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Return values of a seccomp filter (linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
)

const (
	auditArchX86_64 = 0xc000003e // AUDIT_ARCH_X86_64
	x32SyscallBit   = 0x40000000 // __X32_SYSCALL_BIT
	maxInstructions = 4096       // BPF_MAXINSNS
	// Offsets in struct seccomp_data.
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// Filter is a compiled profile.
type Filter struct {
	Program []bpf.RawInstruction
	Flags   uint // SECCOMP_FILTER_FLAG_*, for seccomp(2)
}

// Bytes is the program as struct sock_filter[] in the machine's byte order,
// as seccomp(2) reads it.
func (f *Filter) Bytes() []byte {
	b := make([]byte, 0, 8*len(f.Program))
	for _, in := range f.Program {
		b = binary.LittleEndian.AppendUint16(b, in.Op)
		b = append(b, in.Jt, in.Jf)
		b = binary.LittleEndian.AppendUint32(b, in.K)
	}
	return b
}

var flagOf = map[specs.LinuxSeccompFlag]uint{
	specs.LinuxSeccompFlagLog:       unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow: unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
}

// Compile turns profile into a filter for x86_64.
func Compile(profile *specs.LinuxSeccomp) (*Filter, error) {
	if runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("seccomp: only x86_64 is supported, not %s", runtime.GOARCH)
	}
	if profile.ListenerPath != "" {
		return nil, fmt.Errorf("seccomp: listenerPath is not supported")
	}
	f := &Filter{}
	for _, name := range profile.Flags {
		flag, ok := flagOf[name]
		if !ok {
			return nil, fmt.Errorf("seccomp: flag %s is not supported", name)
		}
		f.Flags |= flag
	}
	def, err := action(profile.DefaultAction, profile.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: default action: %w", err)
	}
	calls, err := group(profile.Syscalls)
	if err != nil {
		return nil, err
	}
	a := &assembler{labels: map[int]int{}}
	a.emit(bpf.LoadAbsolute{Off: offArch, Size: 4})
	a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: auditArchX86_64, SkipTrue: 1})
	a.emit(bpf.RetConstant{Val: retKillProcess})
	a.emit(bpf.LoadAbsolute{Off: offNr, Size: 4})
	a.emit(bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: x32SyscallBit, SkipFalse: 1})
	a.emit(bpf.RetConstant{Val: retKillProcess})
	// The dispatch: a call whose only rule has no conditions returns at
	// once; any other jumps to its block (JA reaches any distance).
	for i, c := range calls {
		a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: c.nr, SkipFalse: 1})
		if r, ok := c.single(); ok {
			a.emit(bpf.RetConstant{Val: r})
		} else {
			a.jump(i)
		}
	}
	a.emit(bpf.RetConstant{Val: def})
	for i, c := range calls {
		if _, ok := c.single(); ok {
			continue
		}
		a.label(i)
		for _, r := range c.rules {
			next := a.newLabel()
			for _, cond := range r.conds {
				if err := a.condition(cond, next); err != nil {
					return nil, fmt.Errorf("seccomp: %s: %w", c.name, err)
				}
			}
			a.emit(bpf.RetConstant{Val: r.ret})
			a.label(next)
		}
		if !c.unconditional {
			a.emit(bpf.RetConstant{Val: def})
		}
	}
	if f.Program, err = a.assemble(); err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	if len(f.Program) > maxInstructions {
		return nil, fmt.Errorf("seccomp: the profile needs %d BPF instructions, more than the kernel's %d", len(f.Program), maxInstructions)
	}
	return f, nil
}

// Load installs f on the calling thread: the process it execs keeps it.
// Without no_new_privs this needs CAP_SYS_ADMIN.
func (f *Filter) Load() error {
	if len(f.Program) == 0 {
		return fmt.Errorf("seccomp: empty program")
	}
	prog := unix.SockFprog{Len: uint16(len(f.Program)), Filter: (*unix.SockFilter)(unsafe.Pointer(&f.Program[0]))}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(f.Flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	if errno != 0 {
		return fmt.Errorf("seccomp: install filter: %w", errno)
	}
	return nil
}

// FromBytes is the inverse of Bytes.
func FromBytes(b []byte, flags uint) (*Filter, error) {
	if len(b) == 0 || len(b)%8 != 0 {
		return nil, fmt.Errorf("seccomp: a program of %d bytes", len(b))
	}
	f := &Filter{Flags: flags, Program: make([]bpf.RawInstruction, len(b)/8)}
	for i := range f.Program {
		in := b[8*i:]
		f.Program[i] = bpf.RawInstruction{Op: binary.LittleEndian.Uint16(in), Jt: in[2], Jf: in[3], K: binary.LittleEndian.Uint32(in[4:])}
	}
	return f, nil
}

func action(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	errno := uint32(unix.EPERM) // the runtime spec's default errnoRet
	if errnoRet != nil {
		errno = uint32(*errnoRet) & 0xffff
	}
	switch act {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		return retErrno | errno, nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActTrace:
		return retTrace | errno, nil
	case specs.ActLog:
		return retLog, nil
	case "":
		return 0, fmt.Errorf("no action given")
	}
	return 0, fmt.Errorf("action %s is not supported", act)
}

type rule struct {
	ret   uint32
	conds []specs.LinuxSeccompArg
}

type call struct {
	name          string
	nr            uint32
	rules         []rule // conditional ones first
	unconditional bool   // the last rule has no conditions
}

// single is the action of a call whose one rule has no conditions.
func (c *call) single() (uint32, bool) {
	if len(c.rules) == 1 && c.unconditional {
		return c.rules[0].ret, true
	}
	return 0, false
}

var syscallNumber = func() func(string) (uint32, bool) {
	var byName map[string]uint32
	return func(name string) (uint32, bool) {
		if byName == nil { // built at the first compile, not at every start of hutch
			byName = make(map[string]uint32, len(x86_64Syscalls))
			for nr, n := range x86_64Syscalls {
				if n != "" {
					byName[n] = uint32(nr)
				}
			}
		}
		nr, ok := byName[name]
		return nr, ok
	}
}()

// group collects the rules of each call, sorted by number.
func group(syscalls []specs.LinuxSyscall) ([]*call, error) {
	byNr := map[uint32]*call{}
	var calls []*call
	uncond := map[uint32]uint32{}
	for _, s := range syscalls {
		ret, err := action(s.Action, s.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp: %v: %w", s.Names, err)
		}
		for _, a := range s.Args {
			if a.Index > 5 {
				return nil, fmt.Errorf("seccomp: %v: argument %d: a call has 6", s.Names, a.Index)
			}
		}
		for _, name := range s.Names {
			nr, ok := syscallNumber(name)
			if !ok {
				continue
			}
			c := byNr[nr]
			if c == nil {
				c = &call{name: name, nr: nr}
				byNr[nr] = c
				calls = append(calls, c)
			}
			if len(s.Args) == 0 {
				if _, seen := uncond[nr]; !seen {
					uncond[nr] = ret // the first unconditional rule wins
				}
				continue
			}
			for _, conds := range splitConditions(s.Args) {
				c.rules = append(c.rules, rule{ret: ret, conds: conds})
			}
		}
	}
	for _, c := range calls {
		if ret, ok := uncond[c.nr]; ok {
			c.rules = append(c.rules, rule{ret: ret})
			c.unconditional = true
		}
	}
	sort.Slice(calls, func(i, j int) bool { return calls[i].nr < calls[j].nr })
	return calls, nil
}

// splitConditions is runc's rule: conditions on distinct arguments are one
// rule (AND); if one argument is named twice, each is a rule of its own (OR).
func splitConditions(args []specs.LinuxSeccompArg) [][]specs.LinuxSeccompArg {
	seen := map[uint]bool{}
	for _, a := range args {
		if seen[a.Index] {
			out := make([][]specs.LinuxSeccompArg, len(args))
			for i, a := range args {
				out[i] = []specs.LinuxSeccompArg{a}
			}
			return out
		}
		seen[a.Index] = true
	}
	return [][]specs.LinuxSeccompArg{args}
}

// assembler places instructions and resolves jumps to labels.
type assembler struct {
	ins    []bpf.Instruction
	fixups []fixup
	labels map[int]int // label -> instruction index
	nlabel int         // labels made by newLabel count down from -1
}

// fixup is a jump at ins[at] whose targets are labels (noLabel: the next
// instruction); ja is an unconditional jump to jt.
type fixup struct {
	at     int
	ja     bool
	jt, jf int
}

const noLabel = 1 << 30

func (a *assembler) emit(in bpf.Instruction) { a.ins = append(a.ins, in) }
func (a *assembler) label(l int)             { a.labels[l] = len(a.ins) }
func (a *assembler) newLabel() int           { a.nlabel--; return a.nlabel }

// jump is an unconditional jump to the block of call i (labels >= 0).
func (a *assembler) jump(l int) {
	a.fixups = append(a.fixups, fixup{at: len(a.ins), ja: true, jt: l})
	a.emit(bpf.Jump{})
}

// jumpIf jumps to label t when the condition holds, f when not; a target
// of nil falls through.
func (a *assembler) jumpIf(cond bpf.JumpTest, val uint32, t, f *int) {
	fx := fixup{at: len(a.ins), jt: noLabel, jf: noLabel}
	if t != nil {
		fx.jt = *t
	}
	if f != nil {
		fx.jf = *f
	}
	a.fixups = append(a.fixups, fx)
	a.emit(bpf.JumpIf{Cond: cond, Val: val})
}

func (a *assembler) assemble() ([]bpf.RawInstruction, error) {
	for _, fx := range a.fixups {
		skip := func(l int) (int, error) {
			if l == noLabel {
				return 0, nil
			}
			to, ok := a.labels[l]
			if !ok {
				return 0, fmt.Errorf("internal: jump to an unplaced label %d", l)
			}
			return to - fx.at - 1, nil
		}
		t, err := skip(fx.jt)
		if err != nil {
			return nil, err
		}
		if fx.ja {
			a.ins[fx.at] = bpf.Jump{Skip: uint32(t)}
			continue
		}
		f, err := skip(fx.jf)
		if err != nil {
			return nil, err
		}
		if t < 0 || t > 255 || f < 0 || f > 255 {
			return nil, fmt.Errorf("a rule too long for a conditional jump (%d, %d)", t, f)
		}
		in := a.ins[fx.at].(bpf.JumpIf)
		in.SkipTrue, in.SkipFalse = uint8(t), uint8(f)
		a.ins[fx.at] = in
	}
	return bpf.Assemble(a.ins)
}

// condition checks one argument condition, going to fail when it does not
// hold and on to the next instruction when it does. An argument is 64 bits,
// loaded as two words: the low at offArgs+8*i, the high above it.
func (a *assembler) condition(c specs.LinuxSeccompArg, fail int) error {
	lo := bpf.LoadAbsolute{Off: offArgs + 8*uint32(c.Index), Size: 4}
	hi := bpf.LoadAbsolute{Off: lo.Off + 4, Size: 4}
	vlo, vhi := uint32(c.Value), uint32(c.Value>>32)
	ok := a.newLabel()
	switch c.Op {
	case specs.OpEqualTo:
		a.emit(hi)
		a.jumpIf(bpf.JumpEqual, vhi, nil, &fail)
		a.emit(lo)
		a.jumpIf(bpf.JumpEqual, vlo, nil, &fail)
	case specs.OpNotEqual:
		a.emit(hi)
		a.jumpIf(bpf.JumpEqual, vhi, nil, &ok)
		a.emit(lo)
		a.jumpIf(bpf.JumpEqual, vlo, &fail, nil)
	case specs.OpMaskedEqual: // (arg & Value) == ValueTwo
		a.emit(hi)
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: vhi})
		a.jumpIf(bpf.JumpEqual, uint32(c.ValueTwo>>32), nil, &fail)
		a.emit(lo)
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: vlo})
		a.jumpIf(bpf.JumpEqual, uint32(c.ValueTwo), nil, &fail)
	case specs.OpGreaterThan, specs.OpGreaterEqual: // unsigned, as libseccomp
		a.emit(hi)
		a.jumpIf(bpf.JumpGreaterThan, vhi, &ok, nil)
		a.jumpIf(bpf.JumpEqual, vhi, nil, &fail)
		a.emit(lo)
		test := bpf.JumpGreaterThan
		if c.Op == specs.OpGreaterEqual {
			test = bpf.JumpGreaterOrEqual
		}
		a.jumpIf(test, vlo, nil, &fail)
	case specs.OpLessThan, specs.OpLessEqual: // the negations of >= and >
		a.emit(hi)
		a.jumpIf(bpf.JumpGreaterThan, vhi, &fail, nil)
		a.jumpIf(bpf.JumpEqual, vhi, nil, &ok)
		a.emit(lo)
		test := bpf.JumpGreaterOrEqual
		if c.Op == specs.OpLessEqual {
			test = bpf.JumpGreaterThan
		}
		a.jumpIf(test, vlo, &fail, nil)
	default:
		return fmt.Errorf("operator %q is not supported", c.Op)
	}
	a.label(ok)
	return nil
}
