package oci

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestPlanOpArity(t *testing.T) {
	for _, bad := range [][]string{{"setns", "3"}, {"fork"}, {"nosuchop"}} {
		p := &Plan{}
		p.op(bad[0], bad[1:]...)
		if p.err == nil || !strings.Contains(p.err.Error(), bad[0]) {
			t.Errorf("op %q: err %v, want it refused", bad, p.err)
		}
	}
}

// TestPlanOpsMatchInit: the Go table of ops and init.c's ops[] name the
// same ops, so a plan the builder accepts is one the init can run.
func TestPlanOpsMatchInit(t *testing.T) {
	src, err := os.ReadFile("../containerinit/init.c")
	if err != nil {
		t.Fatal(err)
	}
	var inC []string
	for _, m := range regexp.MustCompile(`\{"([a-z]+)", op_[a-z]+\}`).FindAllSubmatch(src, -1) {
		inC = append(inC, string(m[1]))
	}
	inGo := slices.Collect(maps.Keys(opArity))
	slices.Sort(inC)
	slices.Sort(inGo)
	if !slices.Equal(inC, inGo) {
		t.Errorf("init.c's ops %v, Go's opArity %v", inC, inGo)
	}
}

func TestMountOptions(t *testing.T) {
	flags, data := mountOptions([]string{"nosuid", "rw", "mode=755", "size=65536k", "ro", "rbind"})
	want := unix.MS_NOSUID | unix.MS_RDONLY | unix.MS_BIND | unix.MS_REC
	if flags != want || data != "mode=755,size=65536k" {
		t.Errorf("mountOptions = %#x %q, want %#x %q", flags, data, want, "mode=755,size=65536k")
	}
}

// opsOf decodes p, failing the test if it does not decode.
func opsOf(t *testing.T, p *Plan) [][]string {
	t.Helper()
	ops, err := p.Ops()
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// indexOp is the index of the first op named name, -1 if none.
func indexOp(ops [][]string, name string) int {
	return slices.IndexFunc(ops, func(op []string) bool { return op[0] == name })
}

// testSpec is a minimal container spec for the plan builders.
func testSpec() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "/bundle/rootfs"},
		Process: &specs.Process{Args: []string{"sh"}, Cwd: "/"},
		Linux:   &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}}},
	}
}

var testHost = HostFacts{IsDir: func(string) (bool, error) { return true, nil }, LastCap: 40}

// An exec's preserved descriptors are handed over after its fork and
// before its exec.
func TestBuildExecPreserve(t *testing.T) {
	p, err := BuildExec(testSpec(), testSpec().Process, ExecJoin{Preserve: 2, PreserveFirst: 6}, 40)
	if err != nil {
		t.Fatal(err)
	}
	ops := opsOf(t, p)
	i := indexOp(ops, "preserve")
	if i < 0 || !slices.Equal(ops[i], []string{"preserve", "6", "2"}) {
		t.Fatalf("ops %q: want preserve 6 2", ops)
	}
	if i < indexOp(ops, "fork") || i > indexOp(ops, "exec") {
		t.Errorf("ops %q: want preserve between fork and exec", ops)
	}
	p, err = BuildExec(testSpec(), testSpec().Process, ExecJoin{}, 40)
	if err != nil {
		t.Fatal(err)
	}
	if ops := opsOf(t, p); indexOp(ops, "preserve") >= 0 {
		t.Errorf("ops %q: a preserve without --preserve-fds", ops)
	}
}

// An idmapped mount is moved into place from the descriptor the runtime
// made it at, its propagation set after; idmap and ridmap never reach
// mount(2)'s data; a bad one is refused.
func TestPlanIdmapped(t *testing.T) {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	spec := testSpec()
	spec.Mounts = []specs.Mount{
		{Destination: "/plain", Type: "bind", Source: "/src", Options: []string{"rbind"}},
		{Destination: "/data/", Type: "bind", Source: "/src", Options: []string{"rbind", "ridmap", "rprivate"}, UIDMappings: m, GIDMappings: m},
	}
	p, err := BuildInit(spec, InitOptions{ExecFifo: 4, Idmapped: map[int]int{1: 9}}, testHost)
	if err != nil {
		t.Fatal(err)
	}
	ops := opsOf(t, p)
	i := indexOp(ops, "movemount")
	if i < 0 || !slices.Equal(ops[i], []string{"movemount", "9", "/data", "dir"}) {
		t.Fatalf("ops %q: want movemount 9 /data dir", ops)
	}
	if want := []string{"mountin", "", "/data", "", itoa(unix.MS_PRIVATE | unix.MS_REC), "", "dir", "0"}; !slices.Equal(ops[i+1], want) {
		t.Errorf("after movemount: %q, want %q", ops[i+1], want)
	}
	if _, data := mountOptions([]string{"bind", "idmap", "ridmap"}); data != "" {
		t.Errorf("mount data %q: want idmap and ridmap left out", data)
	}
	if idmapped, rec := idmapOf(spec.Mounts[1]); !idmapped || !rec {
		t.Errorf("idmapOf(ridmap) = %v %v, want idmapped, recursive", idmapped, rec)
	}

	for name, mount := range map[string]specs.Mount{
		"not-bind":        {Destination: "/d", Type: "tmpfs", Source: "tmpfs", UIDMappings: m, GIDMappings: m},
		"uid-without-gid": {Destination: "/d", Type: "bind", Source: "/src", Options: []string{"bind", "idmap"}, UIDMappings: m},
		"no-userns":       {Destination: "/d", Type: "bind", Source: "/src", Options: []string{"bind", "idmap"}},
	} {
		s := testSpec()
		s.Mounts = []specs.Mount{mount}
		if _, err := BuildInit(s, InitOptions{ExecFifo: 4}, testHost); err == nil {
			t.Errorf("%s: accepted, want it refused", name)
		}
	}
	// With a user namespace, idmap alone takes its mappings.
	s := testSpec()
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Mounts = []specs.Mount{{Destination: "/d", Type: "bind", Source: "/src", Options: []string{"bind", "idmap"}}}
	if _, err := BuildInit(s, InitOptions{ExecFifo: 4, Idmapped: map[int]int{0: 9}}, testHost); err != nil {
		t.Errorf("idmap with a user namespace: %v", err)
	}
}

// domainname, as hostname, is set in the container's UTS namespace.
func TestPlanDomainname(t *testing.T) {
	spec := testSpec()
	spec.Domainname = "example.test"
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UTSNamespace})
	p, err := BuildInit(spec, InitOptions{ExecFifo: 4}, testHost)
	if err != nil {
		t.Fatal(err)
	}
	ops := opsOf(t, p)
	if i := indexOp(ops, "domainname"); i < 0 || ops[i][1] != "example.test" {
		t.Errorf("ops %q: want domainname example.test", ops)
	}
}

// An exec's execCPUAffinity: the initial CPUs while it joins the v1
// cgroups, the final ones after; none, no op.
func TestBuildExecAffinity(t *testing.T) {
	proc := *testSpec().Process
	proc.ExecCPUAffinity = &specs.CPUAffinity{Initial: "1", Final: "0-2,64"}
	p, err := BuildExec(testSpec(), &proc, ExecJoin{Tasks: []int{5}}, 40)
	if err != nil {
		t.Fatal(err)
	}
	ops := opsOf(t, p)
	want := [][]string{{"affinity", "2"}, {"tasks", "5"}, {"affinity", "7,1"}}
	if len(ops) < 3 || !slices.EqualFunc(ops[:3], want, slices.Equal) {
		t.Errorf("ops %q, want %q first", ops, want)
	}
	proc.ExecCPUAffinity = &specs.CPUAffinity{Final: "0-"}
	if _, err := BuildExec(testSpec(), &proc, ExecJoin{}, 40); err == nil {
		t.Errorf("final 0-: accepted, want it refused")
	}
	if p, err := BuildExec(testSpec(), testSpec().Process, ExecJoin{}, 40); err != nil || indexOp(opsOf(t, p), "affinity") >= 0 {
		t.Errorf("no execCPUAffinity: err %v, want no affinity op", err)
	}
}
