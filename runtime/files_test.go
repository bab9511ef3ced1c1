package runtime

import (
	"testing"
)

func TestMountOf(t *testing.T) {
	mounts := []MountPoint{{Destination: "/data"}, {Destination: "/data/sub", ReadOnly: true}, {Destination: "/d"}}
	for p, want := range map[string]string{
		"/data": "/data", "/data/x": "/data", "/data/sub": "/data/sub", "/data/sub/y": "/data/sub",
		"/datax": "", "/d": "/d", "/": "", "/etc": "",
	} {
		got := ""
		if m := mountOf(mounts, p); m != nil {
			got = m.Destination
		}
		if got != want {
			t.Errorf("mountOf(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestHostMountsParentsFirst(t *testing.T) {
	got := hostMounts([]MountPoint{
		{Type: "bind", Source: "/h/a", Destination: "/a/b/c"},
		{Type: "tmpfs", Destination: "/t"},
		{Type: "volume", Source: "/v/_data", Destination: "/a"},
		{Type: "volume", Destination: "/nosource"},
		{Type: "bind", Source: "/h/b", Destination: "/a/b"},
	})
	var dests []string
	for _, m := range got {
		dests = append(dests, m.Destination)
	}
	if want := "[/a /a/b /a/b/c]"; len(dests) != 3 || dests[0] != "/a" || dests[1] != "/a/b" || dests[2] != "/a/b/c" {
		t.Fatalf("hostMounts: %v, want %s", dests, want)
	}
}
