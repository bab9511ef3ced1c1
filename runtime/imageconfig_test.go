package runtime

import (
	"errors"
	"slices"
	"testing"

	"github.com/hutchrt/hutch/network/portspec"
)

func TestCommandLine(t *testing.T) {
	str := func(s string) *string { return &s }
	img := imageConfig{Entrypoint: []string{"/ep", "-x"}, Cmd: []string{"default"}}
	for _, tc := range []struct {
		name       string
		cfg        imageConfig
		entrypoint *string
		args       []string
		want       []string
	}{
		{"image alone", img, nil, nil, []string{"/ep", "-x", "default"}},
		{"args replace cmd", img, nil, []string{"a", "b"}, []string{"/ep", "-x", "a", "b"}},
		{"entrypoint drops the image's cmd", img, str("/other"), nil, []string{"/other"}},
		{"entrypoint and args", img, str("/other"), []string{"a"}, []string{"/other", "a"}},
		{"empty entrypoint clears it", img, str(""), []string{"ls", "/"}, []string{"ls", "/"}},
		{"cmd only", imageConfig{Cmd: []string{"sh"}}, nil, nil, []string{"sh"}},
		{"cmd only, args", imageConfig{Cmd: []string{"sh"}}, nil, []string{"echo"}, []string{"echo"}},
	} {
		got, err := commandLine(tc.cfg, tc.entrypoint, tc.args)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if got, err := commandLine(img, str(""), nil); err == nil {
		t.Errorf("empty entrypoint, no args: %q, want no command specified", got)
	}
	if got, err := commandLine(imageConfig{}, nil, nil); err == nil {
		t.Errorf("no entrypoint, no cmd: %q, want no command specified", got)
	}
}

func TestStopSignal(t *testing.T) {
	for _, tc := range []struct {
		flag, image, want string
		bad               bool
	}{
		{"", "", "", false},                // SIGTERM, as Docker
		{"", "SIGUSR1", "SIGUSR1", false},  // the image's
		{"USR2", "SIGUSR1", "USR2", false}, // --stop-signal wins
		{"9", "", "9", false},              // a number
		{"SIGNOPE", "SIGUSR1", "", true},   // a bad flag is an error, not the image's
		{"", "NOPE", "", true},             // a bad image value too
	} {
		got, err := stopSignal(tc.flag, imageConfig{StopSignal: tc.image})
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("stopSignal(%q, %q) = %q, %v", tc.flag, tc.image, got, err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("stopSignal(%q, %q): %v is not ErrInvalid", tc.flag, tc.image, err)
		}
	}
}

func TestExposedAndPublishAll(t *testing.T) {
	cfg := imageConfig{ExposedPorts: map[string]struct{}{"81/tcp": {}, "80/tcp": {}, "53/udp": {}}}
	exposed, err := exposedPorts(cfg, []string{"80", "8000-8001"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"53/udp", "80/tcp", "81/tcp", "8000/tcp", "8001/tcp"} // image's sorted, then the flags', once each
	if got := portKeys(exposed); !slices.Equal(got, want) {
		t.Errorf("exposedPorts = %v, want %v", got, want)
	}
	if _, err := exposedPorts(imageConfig{ExposedPorts: map[string]struct{}{"x/tcp": {}}}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("a bad image port: %v, want ErrInvalid", err)
	}
	publish, err := portspec.ParseAll([]string{"8080:80"})
	if err != nil {
		t.Fatal(err)
	}
	all := publishAll(publish, exposed)
	if got := portKeys(all); !slices.Equal(got, []string{"80/tcp", "53/udp", "81/tcp", "8000/tcp", "8001/tcp"}) {
		t.Errorf("publishAll: %v, want -p's port once, then the other exposed ones", got)
	}
	for _, m := range all {
		if m.ContainerKey() == "80/tcp" && m.HostPort != 8080 {
			t.Errorf("-p 8080:80 lost to -P: %+v", m)
		}
		if m.ContainerKey() != "80/tcp" && m.HostPort != 0 {
			t.Errorf("-P's %s has host port %d, want 0 (the kernel picks)", m.ContainerKey(), m.HostPort)
		}
	}
}

func TestParsePullPolicy(t *testing.T) {
	for in, want := range map[string]string{"": PullMissing, "missing": PullMissing, "always": PullAlways, "never": PullNever} {
		if got, err := ParsePullPolicy(in); err != nil || got != want {
			t.Errorf("ParsePullPolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Always", "sometimes", "true"} {
		if _, err := ParsePullPolicy(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePullPolicy(%q): %v, want ErrInvalid", in, err)
		}
	}
}

func TestWithImageVolumes(t *testing.T) {
	given := []MountPoint{{Type: "bind", Source: "/h", Destination: "/data"}}
	got, err := withImageVolumes(given, map[string]struct{}{"/data/": {}, "/var/lib/x": {}, "/cache": {}})
	if err != nil {
		t.Fatal(err)
	}
	var dests []string
	for _, m := range got {
		dests = append(dests, m.Destination)
		if m.Destination != "/data" && (m.Type != "volume" || !m.Anonymous) {
			t.Errorf("%+v: want an anonymous volume", m)
		}
	}
	if !slices.Equal(dests, []string{"/data", "/cache", "/var/lib/x"}) { // -v's /data wins over the image's
		t.Errorf("destinations %v", dests)
	}
	if _, err := withImageVolumes(nil, map[string]struct{}{"relative": {}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a relative image volume: %v, want ErrInvalid", err)
	}
}
