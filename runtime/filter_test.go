package runtime

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/portspec"
)

func TestParseFilter(t *testing.T) {
	for _, bad := range []struct{ arg, want string }{
		{"foo=bar", "invalid filter 'foo'"},
		{"name", "bad format of filter (expected name=value)"},
		{"status=sleeping", "invalid filter 'status=sleeping'"},
		{"exited=x", "invalid filter 'exited=x'"},
		{"publish=http", "invalid filter 'publish=http'"},
		{"expose=80/sctp", "invalid filter 'expose=80/sctp'"},
		{"health=sick", "invalid filter 'health=sick'"},
	} {
		if _, err := ParseFilter([]string{bad.arg}); err == nil || err.Error() != bad.want {
			t.Errorf("ParseFilter(%q) = %v, want %q", bad.arg, err, bad.want)
		}
	}
	f, err := ParseFilter([]string{"name=a", "name=b", "label=x=1"})
	if err != nil || len(f["name"]) != 2 || f["label"][0] != "x=1" {
		t.Errorf("ParseFilter: %v, %v", f, err)
	}
	for args, want := range map[string]bool{"status=running": false, "status=exited": true, "exited=0": false, "since=x": true, "name=x": false} {
		if f, _ := ParseFilter([]string{args}); f.WantsAll() != want {
			t.Errorf("%s: WantsAll %v, want %v", args, !want, want)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	web := &Container{ID: "abc123def456", Name: "web", Image: "busybox", ImageID: "330f91e79986c9e1", Status: StatusRunning,
		Network: "front", Labels: map[string]string{"app": "shop", "tier": ""},
		Endpoints: []*network.Endpoint{{Network: "front", NetworkID: "f00dfeed0000aaaa"}},
		Exposed:   []string{"443/tcp"}, Publish: []portspec.Mapping{{ContainerPort: 80, Proto: "tcp"}},
		Ports:   []portspec.Mapping{{HostPort: 8080, ContainerPort: 80, Proto: "tcp"}},
		Created: time.Unix(100, 0)}
	batch := &Container{ID: "fff000111222", Name: "batch-1", Image: "127.0.0.1:5000/tools/app:v2", Status: StatusExited, ExitCode: 3, Network: "none",
		Mounts: []MountPoint{{Type: "volume", Name: "cache", Destination: "/var/cache"}}, Created: time.Unix(200, 0)}
	get := func(ref string) (*Container, error) {
		for _, c := range []*Container{web, batch} {
			if c.Name == ref {
				return c, nil
			}
		}
		return nil, ErrNotFound
	}
	for _, tc := range []struct {
		args       []string
		web, batch bool
	}{
		{nil, true, true},
		{[]string{"name=web"}, true, false},
		{[]string{"name=^/web$"}, true, false},
		{[]string{"name=b"}, true, true}, // a regular expression: anywhere in the name
		{[]string{"name=web", "name=batch"}, true, true},
		{[]string{"name=web", "status=exited"}, false, false}, // keys AND'd
		{[]string{"id=abc"}, true, false},
		{[]string{"id=bc"}, false, false}, // a prefix
		{[]string{"status=running", "status=exited"}, true, true},
		{[]string{"exited=3"}, false, true},
		{[]string{"exited=0"}, false, false},
		{[]string{"label=app"}, true, false},
		{[]string{"label=app=shop"}, true, false},
		{[]string{"label=app=other"}, false, false},
		{[]string{"label=tier="}, true, false},
		{[]string{"label=app", "label=nope"}, true, false},
		{[]string{"network=front"}, true, false},
		{[]string{"network=f00dfeed0000"}, true, false},
		{[]string{"network=none"}, false, true},
		{[]string{"ancestor=busybox"}, true, false},
		{[]string{"ancestor=busybox:latest"}, true, false},
		{[]string{"ancestor=docker.io/library/busybox"}, true, false},
		{[]string{"ancestor=sha256:330f91"}, true, false},
		{[]string{"ancestor=127.0.0.1:5000/tools/app:v2"}, false, true},
		{[]string{"ancestor=127.0.0.1:5000/tools/app"}, false, false}, // :latest is another tag
		{[]string{"volume=cache"}, false, true},
		{[]string{"volume=/var/cache"}, false, true},
		{[]string{"expose=80"}, true, false},
		{[]string{"expose=443/tcp"}, true, false},
		{[]string{"expose=443/udp"}, false, false},
		{[]string{"publish=8080"}, true, false},
		{[]string{"publish=80"}, false, false}, // the host's port
		{[]string{"since=web"}, false, true},
		{[]string{"before=batch-1"}, true, false},
	} {
		f, err := ParseFilter(tc.args)
		if err == nil {
			err = f.Resolve(get)
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := f.Match(web); got != tc.web {
			t.Errorf("%v: web matched %v, want %v", tc.args, got, tc.web)
		}
		if got := f.Match(batch); got != tc.batch {
			t.Errorf("%v: batch matched %v, want %v", tc.args, got, tc.batch)
		}
	}
}

func TestParseLabels(t *testing.T) {
	file := filepath.Join(t.TempDir(), "labels")
	os.WriteFile(file, []byte("# comment\n\na=from-file\nb=2\nflag\n"), 0o644)
	got, err := ParseLabels([]string{"a=from-flag", "c=x=y", "empty="}, []string{file})
	want := map[string]string{"a": "from-flag", "b": "2", "flag": "", "c": "x=y", "empty": ""}
	if err != nil || len(got) != len(want) {
		t.Fatalf("ParseLabels = %v, %v; want %v", got, err, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	if got, err := ParseLabels(nil, nil); got != nil || err != nil {
		t.Errorf("no labels: %v, %v", got, err)
	}
	for _, bad := range []string{"=x", " a=b", ""} {
		if _, err := ParseLabels([]string{bad}, nil); err == nil {
			t.Errorf("label %q accepted", bad)
		}
	}
	if _, err := ParseLabels(nil, []string{"/nonexistent/labels"}); err == nil {
		t.Errorf("a missing label file was accepted")
	}
}

func TestWithImageLabels(t *testing.T) {
	got := withImageLabels(map[string]string{"maintainer": "me", "app": "img"}, map[string]string{"app": "mine"})
	if len(got) != 2 || got["maintainer"] != "me" || got["app"] != "mine" {
		t.Errorf("withImageLabels = %v, want the image's with the container's winning", got)
	}
	if got := withImageLabels(nil, nil); got != nil {
		t.Errorf("no labels at all: %v", got)
	}
}

func TestFilterHealth(t *testing.T) {
	none := &Container{}
	starting := &Container{Healthcheck: &HealthConfig{}}
	healthy := &Container{Healthcheck: &HealthConfig{}, Health: &HealthState{Status: "healthy"}}
	for _, tc := range []struct {
		c    *Container
		want string
	}{{none, "none"}, {starting, "starting"}, {healthy, "healthy"}} {
		for _, v := range filterHealth {
			f, err := ParseFilter([]string{"health=" + v})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(tc.c); got != (v == tc.want) {
				t.Errorf("health=%s on a %s container: %v", v, tc.want, got)
			}
		}
	}
}
