package runtime

import (
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
