// Package seccomp compiles a container's OCI seccomp profile
// (specs.LinuxSeccomp, as runc reads it from config.json) to a classic BPF
// program for seccomp(SECCOMP_SET_MODE_FILTER), in Go: hutch is a static
// binary, so libseccomp is not an option, and the pure-Go compilers at hand
// lack the masked-equal comparison that Docker's clone rule needs. The
// instructions are x/net/bpf's RawInstruction, and its VM runs them in tests.
//
// The program, for x86_64 only:
//
//	arch != AUDIT_ARCH_X86_64          kill the process (i386 and the rest)
//	nr & 0x40000000 (the x32 ABI)      kill the process
//	nr == N, for each listed call      its rules, in the profile's order
//	anything else                      the profile's default action
//
// The call is found by a binary search over runs of numbers that end alike
// (Docker's profile: about 330 instructions, 15 to reach any call). The
// kernel runs the filter for every call number when it is installed, to
// cache the calls it allows whatever their arguments: a linear list of 1150
// instructions made that install cost the init twice as much.
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
	if profile.ListenerMetadata != "" {
		return nil, fmt.Errorf("seccomp: listenerMetadata without a listenerPath")
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
	a := &assembler{}
	a.load(offArch)
	a.jumpIf(jeq, auditArchX86_64, 1, 0)
	a.ret(retKillProcess)
	a.load(offNr)
	a.jumpIf(jset, x32SyscallBit, 0, 1)
	a.ret(retKillProcess)
	blocks := make([]int, len(calls))
	for i := range blocks {
		blocks[i] = a.newLabel()
	}
	a.dispatch(segments(calls, blocks, def))
	for i, c := range calls {
		if _, ok := c.single(); ok {
			continue
		}
		a.place(blocks[i])
		for _, r := range c.rules {
			next := a.newLabel()
			for _, cond := range r.conds {
				if err := a.condition(cond, next); err != nil {
					return nil, fmt.Errorf("seccomp: %s: %w", c.name, err)
				}
			}
			a.ret(r.ret)
			a.place(next)
		}
		if !c.unconditional {
			a.ret(def)
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

// A segment is a range of call numbers, up to the next segment's first,
// that ends alike: in one action, or in the block of one call's rules.
type segment struct {
	first uint32
	ret   uint32
	block int // the block's label, or -1: return ret
}

// segments cuts the call numbers into runs that end alike: Docker's
// profile allows long runs of calls outright, and most of the rest is the
// default, so a few hundred calls make about a hundred segments.
func segments(calls []*call, blocks []int, def uint32) []segment {
	var segs []segment
	add := func(nr, ret uint32, block int) {
		if n := len(segs); n > 0 && block < 0 && segs[n-1].block < 0 && segs[n-1].ret == ret {
			return // the run goes on
		}
		segs = append(segs, segment{first: nr, ret: ret, block: block})
	}
	nr := uint32(0)
	for i, c := range calls {
		if c.nr > nr {
			add(nr, def, -1) // a gap: numbers the profile does not name
		}
		if r, ok := c.single(); ok {
			add(c.nr, r, -1)
		} else {
			add(c.nr, 0, blocks[i])
		}
		nr = c.nr + 1
	}
	add(nr, def, -1) // and every number above
	return segs
}

// dispatch finds the segment of the call number in A by a binary search:
// about 15 instructions to any call, for the calls the kernel cannot cache
// and for the cache itself, which the kernel builds when the filter is
// installed by running it for every call number.
func (a *assembler) dispatch(segs []segment) {
	if len(segs) == 1 {
		if s := segs[0]; s.block >= 0 {
			a.jump(s.block)
		} else {
			a.ret(s.ret)
		}
		return
	}
	mid := len(segs) / 2
	if left := treeSize(segs[:mid]); left <= 255 {
		a.jumpIf(jge, segs[mid].first, uint8(left), 0)
	} else { // beyond a conditional jump's reach
		upper := a.newLabel()
		a.jumpIf(jge, segs[mid].first, 0, 1)
		a.jump(upper)
		a.dispatch(segs[:mid])
		a.place(upper)
		a.dispatch(segs[mid:])
		return
	}
	a.dispatch(segs[:mid])
	a.dispatch(segs[mid:])
}

// treeSize is how many instructions dispatch emits for segs.
func treeSize(segs []segment) int {
	if len(segs) == 1 {
		return 1
	}
	mid := len(segs) / 2
	left := treeSize(segs[:mid])
	n := 1 + left + treeSize(segs[mid:])
	if left > 255 {
		n++
	}
	return n
}

func action(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	errno := uint32(unix.EPERM) // the runtime spec's default errnoRet
	if errnoRet != nil {
		// The spec: an errnoRet with an action that returns none is an error.
		if act != specs.ActErrno && act != specs.ActTrace {
			return 0, fmt.Errorf("errnoRet: action %s returns no errno", act)
		}
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
	uncondRet     uint32 // its action
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
	byNr := make([]call, len(x86_64Syscalls)) // indexed by number: no map to grow, no sort
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
		var split [][]specs.LinuxSeccompArg
		if len(s.Args) > 0 {
			split = splitConditions(s.Args)
		}
		for _, name := range s.Names {
			nr, ok := syscallNumber(name)
			if !ok {
				continue
			}
			c := &byNr[nr]
			if c.name == "" {
				c.name, c.nr = name, nr
			}
			if len(s.Args) == 0 {
				if !c.unconditional { // the first unconditional rule wins
					c.unconditional, c.uncondRet = true, ret
				}
				continue
			}
			for _, conds := range split {
				c.rules = append(c.rules, rule{ret: ret, conds: conds})
			}
		}
	}
	calls := make([]*call, 0, len(byNr))
	for i := range byNr {
		c := &byNr[i]
		if c.name == "" {
			continue
		}
		if c.unconditional {
			c.rules = append(c.rules, rule{ret: c.uncondRet})
		}
		calls = append(calls, c)
	}
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
	ins    []bpf.RawInstruction
	fixups []fixup
	labels []int // label -> instruction index, -1 until placed
}

// fixup is a jump at ins[at] to labels (noLabel: the next instruction);
// ja is an unconditional jump to jt.
type fixup struct {
	at     int
	ja     bool
	jt, jf int
}

const noLabel = -1

// Opcodes of classic BPF (linux/filter.h).
const (
	jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jgt  = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	jge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
)

func (a *assembler) load(off uint32) {
	a.ins = append(a.ins, bpf.RawInstruction{Op: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off})
}

func (a *assembler) and(mask uint32) {
	a.ins = append(a.ins, bpf.RawInstruction{Op: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: mask})
}

func (a *assembler) ret(val uint32) {
	a.ins = append(a.ins, bpf.RawInstruction{Op: unix.BPF_RET | unix.BPF_K, K: val})
}

// jumpIf is a conditional jump by fixed offsets.
func (a *assembler) jumpIf(op uint16, val uint32, jt, jf uint8) {
	a.ins = append(a.ins, bpf.RawInstruction{Op: op, K: val, Jt: jt, Jf: jf})
}

func (a *assembler) newLabel() int {
	a.labels = append(a.labels, -1)
	return len(a.labels) - 1
}

func (a *assembler) place(l int) { a.labels[l] = len(a.ins) }

// jump goes to label l, however far.
func (a *assembler) jump(l int) {
	a.fixups = append(a.fixups, fixup{at: len(a.ins), ja: true, jt: l})
	a.ins = append(a.ins, bpf.RawInstruction{Op: unix.BPF_JMP | unix.BPF_JA})
}

// branch is a conditional jump to labels t and f (noLabel: the next instruction).
func (a *assembler) branch(op uint16, val uint32, t, f int) {
	a.fixups = append(a.fixups, fixup{at: len(a.ins), jt: t, jf: f})
	a.ins = append(a.ins, bpf.RawInstruction{Op: op, K: val})
}

func (a *assembler) assemble() ([]bpf.RawInstruction, error) {
	skip := func(at, l int) (int, error) {
		if l == noLabel {
			return 0, nil
		}
		if a.labels[l] < 0 {
			return 0, fmt.Errorf("internal: jump to an unplaced label %d", l)
		}
		return a.labels[l] - at - 1, nil
	}
	for _, fx := range a.fixups {
		t, err := skip(fx.at, fx.jt)
		if err != nil {
			return nil, err
		}
		if fx.ja {
			a.ins[fx.at].K = uint32(t)
			continue
		}
		f, err := skip(fx.at, fx.jf)
		if err != nil {
			return nil, err
		}
		if t < 0 || t > 255 || f < 0 || f > 255 {
			return nil, fmt.Errorf("a rule too long for a conditional jump (%d, %d)", t, f)
		}
		a.ins[fx.at].Jt, a.ins[fx.at].Jf = uint8(t), uint8(f)
	}
	return a.ins, nil
}

// condition checks one argument condition, going to fail when it does not
// hold and on to the next instruction when it does. An argument is 64 bits,
// loaded as two words: the low at offArgs+8*i, the high above it.
func (a *assembler) condition(c specs.LinuxSeccompArg, fail int) error {
	lo := offArgs + 8*uint32(c.Index)
	hi := lo + 4
	vlo, vhi := uint32(c.Value), uint32(c.Value>>32)
	ok := a.newLabel()
	switch c.Op {
	case specs.OpEqualTo:
		a.load(hi)
		a.branch(jeq, vhi, noLabel, fail)
		a.load(lo)
		a.branch(jeq, vlo, noLabel, fail)
	case specs.OpNotEqual:
		a.load(hi)
		a.branch(jeq, vhi, noLabel, ok)
		a.load(lo)
		a.branch(jeq, vlo, fail, noLabel)
	case specs.OpMaskedEqual: // (arg & Value) == ValueTwo
		a.load(hi)
		a.and(vhi)
		a.branch(jeq, uint32(c.ValueTwo>>32), noLabel, fail)
		a.load(lo)
		a.and(vlo)
		a.branch(jeq, uint32(c.ValueTwo), noLabel, fail)
	case specs.OpGreaterThan, specs.OpGreaterEqual: // unsigned, as libseccomp
		a.load(hi)
		a.branch(jgt, vhi, ok, noLabel)
		a.branch(jeq, vhi, noLabel, fail)
		a.load(lo)
		op := uint16(jgt)
		if c.Op == specs.OpGreaterEqual {
			op = jge
		}
		a.branch(op, vlo, noLabel, fail)
	case specs.OpLessThan, specs.OpLessEqual: // the negations of >= and >
		a.load(hi)
		a.branch(jgt, vhi, fail, noLabel)
		a.branch(jeq, vhi, noLabel, ok)
		a.load(lo)
		op := uint16(jge)
		if c.Op == specs.OpLessEqual {
			op = jgt
		}
		a.branch(op, vlo, fail, noLabel)
	default:
		return fmt.Errorf("operator %q is not supported", c.Op)
	}
	a.place(ok)
	return nil
}

// Actions are the actions Compile knows.
func Actions() []string {
	return []string{string(specs.ActAllow), string(specs.ActErrno), string(specs.ActKill),
		string(specs.ActKillProcess), string(specs.ActKillThread), string(specs.ActLog),
		string(specs.ActTrace), string(specs.ActTrap)}
}
