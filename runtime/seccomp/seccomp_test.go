package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

const auditArchI386 = 0x40000003

// eval runs f on one system call in x/net/bpf's VM. The VM loads words in
// network byte order, so each word of struct seccomp_data is written so.
func eval(t *testing.T, f *Filter, arch, nr uint32, args ...uint64) uint32 {
	t.Helper()
	prog, ok := bpf.Disassemble(f.Program)
	if !ok {
		t.Fatal("the program holds instructions x/net/bpf cannot decode")
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[offNr:], nr)
	binary.BigEndian.PutUint32(data[offArch:], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[offArgs+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[offArgs+8*i+4:], uint32(a>>32))
	}
	ret, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(ret)
}

func errnoRet(e unix.Errno) uint32 { return retErrno | uint32(e) }

// dockerDefault is Docker's default profile for a container with caps.
func dockerDefault(t *testing.T, caps ...string) *Filter {
	t.Helper()
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	p, err := profiles.GetDefaultProfile(spec)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDockerDefault(t *testing.T) {
	f := dockerDefault(t, "CAP_CHOWN", "CAP_NET_BIND_SERVICE")
	x := uint32(auditArchX86_64)
	cases := []struct {
		name string
		nr   uint32
		args []uint64
		want uint32
	}{
		{"read", unix.SYS_READ, nil, retAllow},
		{"execve", unix.SYS_EXECVE, nil, retAllow},
		{"mount without CAP_SYS_ADMIN", unix.SYS_MOUNT, nil, errnoRet(unix.EPERM)},
		{"unshare without CAP_SYS_ADMIN", unix.SYS_UNSHARE, []uint64{unix.CLONE_NEWUSER}, errnoRet(unix.EPERM)},
		{"plain clone", unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD)}, retAllow},
		{"clone of a thread", unix.SYS_CLONE, []uint64{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SIGHAND}, retAllow},
		{"clone with CLONE_NEWUSER", unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, errnoRet(unix.EPERM)},
		{"clone with CLONE_NEWNS", unix.SYS_CLONE, []uint64{unix.CLONE_NEWNS}, errnoRet(unix.EPERM)},
		{"clone3", unix.SYS_CLONE3, nil, errnoRet(unix.ENOSYS)},
		{"personality(0)", unix.SYS_PERSONALITY, []uint64{0}, retAllow},
		{"personality query", unix.SYS_PERSONALITY, []uint64{0xffffffff}, retAllow},
		{"personality(READ_IMPLIES_EXEC)", unix.SYS_PERSONALITY, []uint64{0x0400000}, errnoRet(unix.EPERM)},
		{"personality(0) in the high word", unix.SYS_PERSONALITY, []uint64{1 << 32}, errnoRet(unix.EPERM)},
		{"socket(AF_INET)", unix.SYS_SOCKET, []uint64{unix.AF_INET}, retAllow},
		{"socket(AF_UNIX)", unix.SYS_SOCKET, []uint64{unix.AF_UNIX}, retAllow},
		{"socket(AF_VSOCK)", unix.SYS_SOCKET, []uint64{unix.AF_VSOCK}, errnoRet(unix.EPERM)},
		{"kexec_load", unix.SYS_KEXEC_LOAD, nil, errnoRet(unix.EPERM)},
		{"a number no kernel has", 1000, nil, errnoRet(unix.EPERM)},
	}
	for _, c := range cases {
		if got := eval(t, f, x, c.nr, c.args...); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
	// Other ABIs are refused whole, even for calls x86_64 allows.
	if got := eval(t, f, auditArchI386, 3 /* read on i386 */); got != retKillProcess {
		t.Errorf("i386 read: %#x, want kill", got)
	}
	if got := eval(t, f, x, x32SyscallBit|unix.SYS_READ); got != retKillProcess {
		t.Errorf("x32 read: %#x, want kill", got)
	}
}

// With a capability, the calls Docker gates on it are allowed.
func TestDockerDefaultCapabilities(t *testing.T) {
	f := dockerDefault(t, "CAP_SYS_ADMIN")
	x := uint32(auditArchX86_64)
	for _, c := range []struct {
		name string
		nr   uint32
		args []uint64
	}{
		{"mount", unix.SYS_MOUNT, nil},
		{"unshare", unix.SYS_UNSHARE, []uint64{unix.CLONE_NEWUSER}},
		{"clone with CLONE_NEWUSER", unix.SYS_CLONE, []uint64{unix.CLONE_NEWUSER}},
	} {
		if got := eval(t, f, x, c.nr, c.args...); got != retAllow {
			t.Errorf("%s with CAP_SYS_ADMIN: %#x, want allow", c.name, got)
		}
	}
	// Docker answers ENOSYS to clone3 only for want of CAP_SYS_ADMIN.
	if got := eval(t, f, x, unix.SYS_CLONE3); got != retAllow {
		t.Errorf("clone3 with CAP_SYS_ADMIN: %#x, want allow", got)
	}
	if got := eval(t, f, x, unix.SYS_REBOOT); got != errnoRet(unix.EPERM) {
		t.Errorf("reboot without CAP_SYS_BOOT: %#x, want EPERM", got)
	}
}

func errno(e uint) *uint { return &e }

func TestOperators(t *testing.T) {
	const big = 0x1_0000_0005 // above 32 bits: the high word decides
	cases := []struct {
		op         specs.LinuxSeccompOperator
		value, two uint64
		in         map[uint64]bool // argument -> the rule holds
	}{
		{specs.OpEqualTo, big, 0, map[uint64]bool{big: true, 5: false, big + 1: false}},
		{specs.OpNotEqual, big, 0, map[uint64]bool{big: false, 5: true, 1 << 32: true}},
		{specs.OpGreaterThan, big, 0, map[uint64]bool{big: false, big + 1: true, 6: false, 2 << 32: true}},
		{specs.OpGreaterEqual, big, 0, map[uint64]bool{big: true, big - 1: false, 6: false, 2 << 32: true}},
		{specs.OpLessThan, big, 0, map[uint64]bool{big: false, big - 1: true, 6: true, 2 << 32: false}},
		{specs.OpLessEqual, big, 0, map[uint64]bool{big: true, big + 1: false, 6: true, 2<<32 | 1: false}},
		{specs.OpMaskedEqual, 0xff | 1<<40, 0x12, map[uint64]bool{0x12: true, 0x1012: true, 0x13: false, 0x12 | 1<<40: false}},
	}
	for _, c := range cases {
		f, err := Compile(&specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: errno(uint(unix.EACCES)),
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: c.value, ValueTwo: c.two, Op: c.op}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		for arg, holds := range c.in {
			want := uint32(retAllow)
			if holds {
				want = errnoRet(unix.EACCES)
			}
			if got := eval(t, f, auditArchX86_64, unix.SYS_KILL, 0, arg); got != want {
				t.Errorf("%s %#x on %#x: %#x, want %#x", c.op, c.value, arg, got, want)
			}
		}
	}
}

// Two arguments in one rule must both hold; one argument named twice is
// either (runc's rule).
func TestConditionsAndOr(t *testing.T) {
	f, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"kill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 1, Value: 9, Op: specs.OpEqualTo}}},
			{Names: []string{"tkill"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 1, Value: 9, Op: specs.OpEqualTo}, {Index: 1, Value: 15, Op: specs.OpEqualTo}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	x := uint32(auditArchX86_64)
	for _, c := range []struct {
		nr   uint32
		args []uint64
		want uint32
	}{
		{unix.SYS_KILL, []uint64{1, 9}, retAllow},
		{unix.SYS_KILL, []uint64{1, 15}, errnoRet(unix.EPERM)},
		{unix.SYS_KILL, []uint64{2, 9}, errnoRet(unix.EPERM)},
		{unix.SYS_TKILL, []uint64{7, 9}, retAllow},
		{unix.SYS_TKILL, []uint64{7, 15}, retAllow},
		{unix.SYS_TKILL, []uint64{7, 2}, errnoRet(unix.EPERM)},
	} {
		if got := eval(t, f, x, c.nr, c.args...); got != c.want {
			t.Errorf("%d%v: %#x, want %#x", c.nr, c.args, got, c.want)
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	errnoRet := uint(1)
	for name, p := range map[string]*specs.LinuxSeccomp{
		"no default action": {},
		"unknown action":    {DefaultAction: "SCMP_ACT_MAYBE"},
		"notify":            {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}},
		"unknown operator": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_SOMETIMES"}}}}},
		"argument 6":   {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}},
		"unknown flag": {DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW"}},
		// config-linux.md: an action that returns no errno, with an errnoRet.
		"errnoRet of allow": {DefaultAction: specs.ActAllow, DefaultErrnoRet: &errnoRet},
		"errnoRet of kill": {DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"},
			Action: specs.ActKillProcess, ErrnoRet: &errnoRet}}},
		"listenerMetadata alone": {DefaultAction: specs.ActAllow, ListenerMetadata: "x"},
	} {
		if _, err := Compile(p); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
	// A name of another architecture or a later kernel is skipped, as by runc.
	if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"socketcall", "no_such_call"}, Action: specs.ActErrno}}}); err != nil {
		t.Errorf("unknown names: %v", err)
	}
}

func TestBytesRoundTrip(t *testing.T) {
	f := dockerDefault(t)
	g, err := fromBytes(f.Bytes(), f.Flags)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Program) != len(f.Program) {
		t.Fatalf("%d instructions back, want %d", len(g.Program), len(f.Program))
	}
	for i := range f.Program {
		if f.Program[i] != g.Program[i] {
			t.Fatalf("instruction %d: %+v, want %+v", i, g.Program[i], f.Program[i])
		}
	}
	if _, err := fromBytes([]byte{1, 2, 3}, 0); err == nil {
		t.Error("a program of 3 bytes decoded")
	}
}

// onFilteredThread runs fn on a thread of its own with f installed: a
// filter binds the thread that loads it (no TSYNC), and the thread ends
// with fn, so the test process is not filtered.
func onFilteredThread(t *testing.T, f *Filter, fn func()) {
	t.Helper()
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with us
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			errc <- err
			return
		}
		if err := f.load(); err != nil {
			errc <- err
			return
		}
		fn()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func rawErrno(nr uintptr, args ...uintptr) unix.Errno {
	a := make([]uintptr, 6)
	copy(a, args)
	_, _, e := unix.RawSyscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	return e
}

// The kernel itself runs the compiled Docker profile: the errnos are real.
func TestKernelRunsDockerDefault(t *testing.T) {
	var unshareUser, clone3, cloneUser, getpid unix.Errno
	var mode string
	onFilteredThread(t, dockerDefault(t, "CAP_CHOWN"), func() {
		unshareUser = rawErrno(unix.SYS_UNSHARE, unix.CLONE_NEWUSER)
		clone3 = rawErrno(unix.SYS_CLONE3, 0, 0)
		// clone would succeed if allowed: ask with flags it must refuse
		// first (CLONE_NEWUSER|CLONE_THREAD is EINVAL to the kernel).
		cloneUser = rawErrno(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_THREAD)
		getpid = rawErrno(unix.SYS_GETPID)
		b, _ := os.ReadFile("/proc/thread-self/status")
		mode = seccompLine(string(b))
	})
	if unshareUser != unix.EPERM {
		t.Errorf("unshare(CLONE_NEWUSER): %v, want EPERM", unshareUser)
	}
	if clone3 != unix.ENOSYS {
		t.Errorf("clone3: %v, want ENOSYS", clone3)
	}
	if cloneUser != unix.EPERM {
		t.Errorf("clone(CLONE_NEWUSER): %v, want EPERM", cloneUser)
	}
	if getpid != 0 {
		t.Errorf("getpid: %v", getpid)
	}
	if mode != "2" {
		t.Errorf("Seccomp: %q, want 2", mode)
	}
}

// A profile of Docker's format that denies mkdir, with its own errno.
func TestKernelRunsCustomProfile(t *testing.T) {
	p, err := profiles.LoadProfile(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
		{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`, &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var mkErr, openErr error
	onFilteredThread(t, f, func() {
		mkErr = unix.Mkdirat(unix.AT_FDCWD, filepath.Join(dir, "d"), 0o755)
		fd, err := unix.Open(filepath.Join(dir, "f"), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		openErr = err
		if err == nil {
			unix.Close(fd)
		}
	})
	if !errors.Is(mkErr, unix.EACCES) {
		t.Errorf("mkdirat: %v, want EACCES", mkErr)
	}
	if openErr != nil {
		t.Errorf("open: %v", openErr)
	}
}

func seccompLine(status string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:\t"); ok {
			return v
		}
	}
	return ""
}

// What a container's start pays: Docker's profile for its capabilities,
// then the compile.
func BenchmarkDockerDefault(b *testing.B) {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}}}}
	for b.Loop() {
		p, err := profiles.GetDefaultProfile(spec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}}}}
	p, _ := profiles.GetDefaultProfile(spec)
	for b.Loop() {
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}

// What the init pays to install Docker's filter (the kernel checks it and
// builds its per-call cache), on a fresh thread each time: filters stack.
func BenchmarkLoad(b *testing.B) {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}}}}
	p, _ := profiles.GetDefaultProfile(spec)
	b.Run("docker", func(b *testing.B) { benchmarkLoad(b, p) })
	// The floor: a filter that allows everything.
	b.Run("allow", func(b *testing.B) { benchmarkLoad(b, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}) })
}

func benchmarkLoad(b *testing.B, p *specs.LinuxSeccomp) {
	f, err := Compile(p)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for b.Loop() {
		errc := make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread exits with its filter
			unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
			t0 := time.Now()
			err := f.load()
			total += time.Since(t0)
			errc <- err
		}()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/load")
	b.ReportMetric(float64(len(f.Program)), "instructions")
}

// reference is what the profile says of one call, read straight from its
// rules (no dispatch tree): conditional rules in order, then the first
// unconditional one, then the default.
func reference(t *testing.T, p *specs.LinuxSeccomp, name string, args []uint64) uint32 {
	t.Helper()
	act := func(a specs.LinuxSeccompAction, e *uint) uint32 {
		r, err := action(a, e)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	holds := func(c specs.LinuxSeccompArg) bool {
		v := args[c.Index]
		switch c.Op {
		case specs.OpEqualTo:
			return v == c.Value
		case specs.OpNotEqual:
			return v != c.Value
		case specs.OpMaskedEqual:
			return v&c.Value == c.ValueTwo
		case specs.OpLessThan:
			return v < c.Value
		case specs.OpLessEqual:
			return v <= c.Value
		case specs.OpGreaterThan:
			return v > c.Value
		case specs.OpGreaterEqual:
			return v >= c.Value
		}
		t.Fatalf("operator %s", c.Op)
		return false
	}
	for _, s := range p.Syscalls {
		if len(s.Args) == 0 || !slices.Contains(s.Names, name) {
			continue
		}
		for _, conds := range splitConditions(s.Args) {
			all := true
			for _, c := range conds {
				all = all && holds(c)
			}
			if all {
				return act(s.Action, s.ErrnoRet)
			}
		}
	}
	for _, s := range p.Syscalls {
		if len(s.Args) == 0 && slices.Contains(s.Names, name) {
			return act(s.Action, s.ErrnoRet)
		}
	}
	return act(p.DefaultAction, p.DefaultErrnoRet)
}

// Every call number, with arguments the rules test, gets what the profile
// says: the binary search and the runs of numbers lose nothing.
func TestEveryCallMatchesTheProfile(t *testing.T) {
	var all []*specs.LinuxSeccomp
	for _, caps := range [][]string{{"CAP_CHOWN"}, {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_TIME"}} {
		p, err := profiles.GetDefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p)
	}
	// Every call its own errno: no runs, so the search's halves lie
	// beyond a conditional jump's reach and take the JA.
	spread := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	for nr, name := range x86_64Syscalls {
		if name != "" {
			spread.Syscalls = append(spread.Syscalls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: errno(uint(nr%200 + 1))})
		}
	}
	for _, p := range append(all, spread) {
		f, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		argSets := [][]uint64{
			make([]uint64, 6),
			{unix.CLONE_NEWUSER, 1, 2, 3, 4, 5},
			{unix.AF_VSOCK, 0, 0, 0, 0, 0},
			{unix.AF_INET, 0, 0, 0, 0, 0},
			{0xffffffff, 0, 0, 0, 0, 0},
			{1 << 40, 1 << 33, 7, 0, 0, 0},
		}
		for nr := 0; nr < len(x86_64Syscalls)+20; nr++ {
			name := ""
			if nr < len(x86_64Syscalls) {
				name = x86_64Syscalls[nr]
			}
			for _, args := range argSets {
				want := reference(t, p, name, args)
				if name == "" {
					want, _ = action(p.DefaultAction, p.DefaultErrnoRet)
				}
				if got := eval(t, f, auditArchX86_64, uint32(nr), args...); got != want {
					t.Errorf("%s (%d) %#x: %#x, want %#x", name, nr, args, got, want)
				}
			}
		}
	}
}

// load installs f on the calling thread, as the init's seccomp op does
// (runtime/containerinit): the kernel tests run filters in-process.
func (f *Filter) load() error {
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

// fromBytes is the inverse of Bytes.
func fromBytes(b []byte, flags uint) (*Filter, error) {
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
