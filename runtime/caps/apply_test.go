package caps

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// childEnv carries an applyRequest to a re-exec of the test binary, which
// applies it and execs cat: a fresh process is needed because Apply changes
// the ids of the whole process for good.
const childEnv = "HUTCH_CAPS_TEST_CHILD"

type applyRequest struct {
	Caps   *specs.LinuxCapabilities
	UID    uint32
	GID    uint32
	Groups []uint32
}

func TestMain(m *testing.M) {
	if req := os.Getenv(childEnv); req != "" {
		runChild(req)
	}
	os.Exit(m.Run())
}

func runChild(req string) {
	runtime.LockOSThread()
	var r applyRequest
	if err := json.Unmarshal([]byte(req), &r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	if err := Apply(r.Caps, r.UID, r.GID, r.Groups); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	// exec, not read: what matters is what survives execve.
	err := unix.Exec("/bin/cat", []string{"cat", "/proc/self/status"}, []string{})
	fmt.Fprintln(os.Stderr, "exec cat:", err)
	os.Exit(3)
}

func mask(t *testing.T, names []string) string {
	t.Helper()
	var m uint64
	for _, n := range names {
		c, ok := byName[n]
		if !ok {
			t.Fatalf("unknown capability %q", n)
		}
		m |= 1 << uint(c)
	}
	return fmt.Sprintf("%016x", m)
}

func TestApply(t *testing.T) {
	two := []string{"CAP_CHOWN", "CAP_KILL"}
	amb := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}
	tests := []struct {
		name                     string
		req                      applyRequest
		bnd, eff, prm, inh, ambs []string
		ids, groups              string
	}{
		{
			name: "non-root two caps",
			req:  applyRequest{Caps: Sets(two, 1000), UID: 1000, GID: 1000, Groups: []uint32{1000, 27}},
			bnd:  two,
			ids:  "1000", groups: "27 1000",
		},
		{
			name: "root default",
			req:  applyRequest{Caps: Sets(Default(), 0)},
			bnd:  Default(), eff: Default(), prm: Default(),
			ids: "0",
		},
		{
			name: "non-root ambient",
			req: applyRequest{
				Caps: &specs.LinuxCapabilities{Bounding: amb, Effective: amb, Permitted: amb, Inheritable: amb, Ambient: amb},
				UID:  1000, GID: 1000,
			},
			bnd: amb, eff: amb, prm: amb, inh: amb, ambs: amb,
			ids: "1000",
		},
		{
			name: "nil caps",
			req:  applyRequest{UID: 65534, GID: 65534},
			ids:  "65534",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := json.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+string(req))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v: %s", err, stderr.String())
			}
			status := map[string]string{}
			for _, line := range strings.Split(string(out), "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok {
					status[k] = strings.TrimSpace(v)
				}
			}
			for _, f := range []struct {
				key   string
				names []string
			}{
				{"CapBnd", tt.bnd}, {"CapEff", tt.eff}, {"CapPrm", tt.prm}, {"CapInh", tt.inh}, {"CapAmb", tt.ambs},
			} {
				if got, want := status[f.key], mask(t, f.names); got != want {
					t.Errorf("%s = %s, want %s (%v)", f.key, got, want, f.names)
				}
			}
			wantIDs := strings.Join(slices.Repeat([]string{tt.ids}, 4), "\t")
			if got := status["Uid"]; got != wantIDs {
				t.Errorf("Uid = %q, want %q", got, wantIDs)
			}
			if got := status["Gid"]; got != wantIDs {
				t.Errorf("Gid = %q, want %q", got, wantIDs)
			}
			if got := status["Groups"]; got != tt.groups {
				t.Errorf("Groups = %q, want %q", got, tt.groups)
			}
		})
	}
}

// Names are checked before anything changes, so this is safe in the test process.
func TestApplyUnknown(t *testing.T) {
	err := Apply(&specs.LinuxCapabilities{Bounding: []string{"CAP_FOO"}}, 0, 0, nil)
	if err == nil || !strings.Contains(err.Error(), `unknown capability "CAP_FOO"`) {
		t.Fatalf("Apply(CAP_FOO) error = %v, want unknown capability", err)
	}
}
