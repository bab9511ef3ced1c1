package rootfs

import "testing"

func TestParseReference(t *testing.T) {
	for _, tc := range []struct{ in, canon, repo, tag string }{
		{"busybox", "docker.io/library/busybox:latest", "busybox", "latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox", "1.36"},
		{"docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox", "latest"},
		{"index.docker.io/user/app:v2", "docker.io/user/app:v2", "user/app", "v2"},
		{"localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x", "latest"},
		{"127.0.0.1:5000/test/app:1", "127.0.0.1:5000/test/app:1", "127.0.0.1:5000/test/app", "1"},
		{"quay.io/a/b@sha256:" + sixtyFour, "quay.io/a/b@sha256:" + sixtyFour, "quay.io/a/b", "<none>"},
	} {
		_, canon, err := ParseReference(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if canon != tc.canon {
			t.Errorf("%s: canonical %q, want %q", tc.in, canon, tc.canon)
		}
		if repo, tag := Familiar(canon); repo != tc.repo || tag != tc.tag {
			t.Errorf("%s: familiar %q %q, want %q %q", tc.in, repo, tag, tc.repo, tc.tag)
		}
	}
	for _, bad := range []string{"", "UPPER/case", "a b", "x@sha256:short", "../etc", "a/.b/c", "a_", "x:" + sixtyFour + sixtyFour + sixtyFour} {
		if _, _, err := ParseReference(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestLoopbackRegistry(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.8.9.10": true, "localhost:1": true, "[::1]:5000": true,
		"10.0.0.1:5000": false, "192.168.1.1": false, "docker.io": false, "localhost.example.com": false,
	} {
		if got := loopbackRegistry(host); got != want {
			t.Errorf("%s: %v, want %v", host, got, want)
		}
	}
}

const sixtyFour = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// An image loaded without a name is named by its ID, which lists as <none> <none>; a name that
// only looks like one is a name.
func TestUntaggedID(t *testing.T) {
	if repo, tag := Familiar("sha256:" + sixtyFour); repo != "<none>" || tag != "<none>" {
		t.Errorf("familiar of an ID: %q %q", repo, tag)
	}
	for name, want := range map[string]bool{
		"sha256:" + sixtyFour: true, sixtyFour: false, "sha256:" + sixtyFour[:12]: false,
		"sha256:" + sixtyFour + "0": false, "docker.io/library/sha256:" + sixtyFour: false,
	} {
		if _, got := untaggedID(name); got != want {
			t.Errorf("untaggedID(%q) = %v, want %v", name, got, want)
		}
	}
}
