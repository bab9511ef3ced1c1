package runtime

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/portspec"
	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/jsonwalk"
)

func TestNewSpec(t *testing.T) {
	s := newSpec(specInput{
		ID: "abc", Dir: "/var/lib/hutch/containers/abc", LowerDir: "/img",
		Args: []string{"sh", "-c", "true"}, Env: []string{"A=1", "PATH=/bin"},
		Hostname: "h", UID: 1000, GID: 1000, Home: "/home/user", Network: "none",
		HostNofileHard: 20000,
	})
	if got := s.Root.Path; got != "/var/lib/hutch/containers/abc/rootfs" {
		t.Errorf("root = %q", got)
	}
	wantEnv := []string{"PATH=/bin", "HOSTNAME=h", "HOME=/home/user", "A=1"}
	if !reflect.DeepEqual(s.Process.Env, wantEnv) {
		t.Errorf("env = %q, want %q", s.Process.Env, wantEnv)
	}
	if s.Process.Cwd != "/" {
		t.Errorf("cwd = %q, want /", s.Process.Cwd)
	}
	if r := s.Process.Rlimits[0]; r.Hard != 20000 || r.Soft != 20000 {
		t.Errorf("nofile = %+v, want capped at the host's 20000", r)
	}
	if s.Linux.CgroupsPath != "/hutch/abc" {
		t.Errorf("cgroups path = %q", s.Linux.CgroupsPath)
	}
	if len(s.Linux.MaskedPaths) == 0 || len(s.Linux.ReadonlyPaths) == 0 {
		t.Error("unprivileged spec has no masked or read-only paths")
	}
	// New namespaces of every kind but user, none joined by path (the OCI
	// core clones them, and the init unshares the cgroup namespace).
	var kinds []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		if ns.Path != "" {
			t.Errorf("namespace %s joined by path %s", ns.Type, ns.Path)
		}
		kinds = append(kinds, ns.Type)
	}
	want := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.MountNamespace, specs.UTSNamespace,
		specs.IPCNamespace, specs.CgroupNamespace, specs.NetworkNamespace}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("namespaces = %v, want %v", kinds, want)
	}
}

func TestNewSpecVariants(t *testing.T) {
	host := newSpec(specInput{Network: "host", Privileged: true, ReadOnly: true, Init: true, Tty: true, HostNofileHard: 1 << 30})
	for _, ns := range host.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			t.Error("host network spec has a network namespace")
		}
	}
	if host.Linux.MaskedPaths != nil {
		t.Error("privileged spec masks paths")
	}
	if !host.Root.Readonly || host.Annotations[annotInit] != "true" || !host.Process.Terminal {
		t.Error("read-only, init or terminal lost")
	}
	if r := host.Process.Rlimits[0]; r.Hard != maxNofile {
		t.Errorf("nofile = %d, want Docker's %d when the host allows more", r.Hard, maxNofile)
	}
	// container:X's namespace changes with X's every start: it is handed to
	// the core at start (CreateOptions.NetNS), never written as a path.
	joined := newSpec(specInput{Network: "container:x", HostNofileHard: 1024})
	for _, ns := range joined.Linux.Namespaces {
		if ns.Path != "" || ns.Type == specs.NetworkNamespace {
			t.Errorf("container:x spec has namespace %+v", ns)
		}
	}
}

// config.json and state.json are written by jsonwalk, not encoding/json
// (0.5 ms a run): the values hutch makes must stay within what it walks.
func TestRecordsTakeTheFastEncoder(t *testing.T) {
	res, err := cgroups.Resources("64m", "1.5", 20)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{
		"spec": newSpec(specInput{ID: "abc", Dir: "/c/abc", Args: []string{"sh"}, Env: []string{"A=1"}, Hostname: "h",
			UID: 1000, GID: 1000, AdditionalGids: []uint32{10}, Caps: caps.Sets([]string{"CAP_CHOWN"}, 1000),
			Network: "none", Resources: res, Init: true, Volatile: true, Tty: true, HostNofileHard: 1024}),
		"privileged spec": newSpec(specInput{Dir: "/c/abc", Args: []string{"sh"}, Network: "host", Privileged: true}),
		"spec with Docker's seccomp profile": withSeccomp(t, newSpec(specInput{Dir: "/c/abc", Args: []string{"sh"},
			Caps: caps.Sets([]string{"CAP_CHOWN"}, 0), Network: "none"})),
		"record": &Container{ID: "abc", Name: "web", Created: now(), StartedAt: now(), Status: StatusRunning,
			Endpoints: []*network.Endpoint{{NetworkID: "n", IP: netip.MustParseAddr("10.0.0.2"), Gateway: netip.MustParseAddr("10.0.0.1"), Aliases: []string{"w"}}},
			Publish:   []portspec.Mapping{{HostPort: 80, ContainerPort: 8080, Proto: "tcp"}},
			Ports:     []portspec.Mapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 80, ContainerPort: 8080, Proto: "tcp"}}},
	} {
		if !jsonwalk.Walks(v) {
			t.Errorf("%s: jsonwalk leaves it to encoding/json", name)
		}
		got, err := jsonwalk.MarshalIndent(v)
		want, _ := json.MarshalIndent(v, "", "  ")
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: jsonwalk wrote\n%s\n(%v), encoding/json\n%s", name, got, err, want)
		}
	}
}

func withSeccomp(t *testing.T, spec *specs.Spec) *specs.Spec {
	t.Helper()
	var err error
	if spec.Linux.Seccomp, err = seccompProfile(securityOpts{}, false, spec); err != nil {
		t.Fatal(err)
	}
	return spec
}
