package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hutchrt/hutch/runtime/caps"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    RunOptions
		ok   bool
	}{
		{"minimal", RunOptions{Image: "busybox"}, true},
		{"good name", RunOptions{Image: "busybox", Name: "web-1.a_b"}, true},
		{"name with slash", RunOptions{Image: "busybox", Name: "a/b"}, false},
		{"name starting with dash", RunOptions{Image: "busybox", Name: "-a"}, false},
		{"no image", RunOptions{}, false},
		{"relative workdir", RunOptions{Image: "busybox", Workdir: "tmp"}, false},
		{"absolute workdir", RunOptions{Image: "busybox", Workdir: "/tmp/x"}, true},
		{"bad hostname", RunOptions{Image: "busybox", Hostname: "a_b"}, false},
		{"host network", RunOptions{Image: "busybox", Network: "host"}, true},
		{"nnp", RunOptions{Image: "busybox", SecurityOpts: []string{"no-new-privileges"}}, true},
		{"nnp false", RunOptions{Image: "busybox", SecurityOpts: []string{"no-new-privileges:false"}}, true},
		{"nnp bad value", RunOptions{Image: "busybox", SecurityOpts: []string{"no-new-privileges:maybe"}}, false},
		{"unknown security opt", RunOptions{Image: "busybox", SecurityOpts: []string{"apparmor=unconfined"}}, false},
		{"seccomp unconfined", RunOptions{Image: "busybox", SecurityOpts: []string{"seccomp=unconfined"}}, true},
		{"seccomp builtin", RunOptions{Image: "busybox", SecurityOpts: []string{"seccomp:builtin"}}, true},
		{"seccomp profile missing", RunOptions{Image: "busybox", SecurityOpts: []string{"seccomp=/nonexistent.json"}}, false},
		{"seccomp empty", RunOptions{Image: "busybox", SecurityOpts: []string{"seccomp="}}, false},
		{"pids -1 is unlimited", RunOptions{Image: "busybox", PidsLimit: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.validate()
			if (err == nil) != tt.ok {
				t.Fatalf("validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("validate() error %v is not ErrInvalid", err)
			}
		})
	}
}

func TestSecurityOpts(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n"), 0o644)
	os.WriteFile(bad, []byte("{\"defaultAction\": "), 0o644)
	o := RunOptions{SecurityOpts: []string{"no-new-privileges", "seccomp=" + good}}
	so, err := o.securityOpts()
	if err != nil {
		t.Fatal(err)
	}
	// As Docker's CLI sends it: the file's content, compacted.
	want := []string{"no-new-privileges", `seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}
	if !so.noNewPrivileges || so.seccomp != `{"defaultAction":"SCMP_ACT_ALLOW"}` || !reflect.DeepEqual(so.shown, want) {
		t.Errorf("securityOpts() = %+v, want nnp and shown %q", so, want)
	}
	if _, err := (&RunOptions{SecurityOpts: []string{"seccomp=" + bad}}).securityOpts(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a profile that is not JSON: %v, want ErrInvalid", err)
	}
	// JSON, but not a profile hutch can compile: refused at create, as invalid.
	spec := newSpec(specInput{Dir: "/c/abc", Args: []string{"sh"}, Network: "none", Caps: caps.Sets(nil, 0)})
	for _, profile := range []string{`{"defaultAction":"SCMP_ACT_SOMETIMES"}`, `{"defaultAction":1}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"op":"SCMP_CMP_EQ"}]}]}`} {
		if _, err := seccompProfile(securityOpts{seccomp: profile}, false, spec); !errors.Is(err, ErrInvalid) {
			t.Errorf("profile %s: %v, want ErrInvalid", profile, err)
		}
	}
}

func TestEnvironment(t *testing.T) {
	file := filepath.Join(t.TempDir(), "env")
	os.WriteFile(file, []byte("# comment\n\nA=from-file\nB=file\n  FROMHOST\n"), 0o644)
	host := map[string]string{"FROMHOST": "h", "BARE": "bare"}
	lookup := func(k string) (string, bool) { v, ok := host[k]; return v, ok }
	o := RunOptions{EnvFiles: []string{file}, Env: []string{"A=from-flag", "BARE", "UNSET", "C=x=y"}}
	got, err := o.environment(lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=from-flag", "B=file", "FROMHOST=h", "BARE=bare", "C=x=y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("environment() = %q, want %q", got, want)
	}
	for _, bad := range []string{"=x", "=", ""} {
		if _, err := (&RunOptions{Env: []string{bad}}).environment(lookup); err == nil {
			t.Errorf("environment(%q) succeeded, want error", bad)
		}
	}
	if _, err := (&RunOptions{EnvFiles: []string{"/nonexistent"}}).environment(lookup); err == nil {
		t.Error("missing --env-file accepted")
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"KILL": 9, "sigterm": 15, "SIGHUP": 1, "10": 10, "usr1": 10} {
		got, err := ParseSignal(in)
		if err != nil || int(got) != want {
			t.Errorf("ParseSignal(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"NOPE", "0", "99", ""} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) succeeded, want error", bad)
		}
	}
}
