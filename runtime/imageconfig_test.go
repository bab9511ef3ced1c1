package runtime

import (
	"errors"
	"slices"
	"testing"
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
