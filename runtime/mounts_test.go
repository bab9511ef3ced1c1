package runtime

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseVolumeFlag(t *testing.T) {
	tests := []struct {
		in   string
		want MountPoint
	}{
		{"/srv/data:/data", MountPoint{Type: "bind", Source: "/srv/data", Destination: "/data", createSource: true}},
		{"/srv//data/:/data/../web/", MountPoint{Type: "bind", Source: "/srv/data", Destination: "/web", createSource: true}},
		{"/srv:/data:ro", MountPoint{Type: "bind", Source: "/srv", Destination: "/data", ReadOnly: true, Mode: "ro", createSource: true}},
		{"/srv:/data:rw,rprivate", MountPoint{Type: "bind", Source: "/srv", Destination: "/data", Mode: "rw,rprivate", createSource: true}},
		{"/etc/hosts:/etc/hosts", MountPoint{Type: "bind", Source: "/etc/hosts", Destination: "/etc/hosts", createSource: true}},
		{"cache:/var/cache", MountPoint{Type: "volume", Name: "cache", Destination: "/var/cache"}},
		{"my_vol.1-a:/v:ro,nocopy", MountPoint{Type: "volume", Name: "my_vol.1-a", Destination: "/v", ReadOnly: true, Mode: "ro,nocopy", noCopy: true}},
		{"/data", MountPoint{Type: "volume", Destination: "/data", Anonymous: true}},
	}
	for _, tt := range tests {
		got, err := parseVolumeFlag(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseVolumeFlagBad(t *testing.T) {
	for _, in := range []string{
		"", ":", "/a:", ":/b", "/a::ro", "/a:/b:", // empty parts
		"/a:/b:ro:x",         // too many parts
		"rel/dir:/b",         // a relative host path is no volume name
		"./dir:/b", "~/x:/b", // the same
		"a:/b",            // a volume name needs two characters
		"_a:/b", "a b:/b", // odd characters
		"/a:b", "data", // relative targets
		"/a:/", "/a:/x/..", // over the root
		"/a:/proc", "/a:/proc/sys", "/proc",
		"/a:/b:ro,bogus", "/a:/b:shared", "/a:/b:z",
		"/a:/b:nocopy", // nocopy is for volumes
	} {
		_, err := parseVolumeFlag(in)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: want an invalid-input error, got %v", in, err)
		}
	}
}

func TestParseMountFlag(t *testing.T) {
	tests := []struct {
		in   string
		want MountPoint
	}{
		{"type=bind,source=/srv,target=/data", MountPoint{Type: "bind", Source: "/srv", Destination: "/data"}},
		{"type=bind,src=/srv,dst=/data,readonly", MountPoint{Type: "bind", Source: "/srv", Destination: "/data", ReadOnly: true}},
		{"type=bind,src=/srv,destination=/data,ro=true,bind-propagation=rprivate", MountPoint{Type: "bind", Source: "/srv", Destination: "/data", ReadOnly: true}},
		{"type=bind,src=/srv,target=/data,readonly=false", MountPoint{Type: "bind", Source: "/srv", Destination: "/data"}},
		{`"type=bind","src=/a,b",target=/c`, MountPoint{Type: "bind", Source: "/a,b", Destination: "/c"}},
		{"source=vol,target=/v", MountPoint{Type: "volume", Name: "vol", Destination: "/v"}},
		{"type=volume,target=/v,volume-nocopy", MountPoint{Type: "volume", Destination: "/v", Anonymous: true, noCopy: true}},
		{"type=tmpfs,target=/t", MountPoint{Type: "tmpfs", Destination: "/t", options: []string{"nosuid", "nodev", "noexec"}}},
		{"type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=700", MountPoint{Type: "tmpfs", Destination: "/t",
			options: []string{"nosuid", "nodev", "noexec", "size=1048576", "mode=700"}}},
		{"type=tmpfs,target=/t,readonly", MountPoint{Type: "tmpfs", Destination: "/t", ReadOnly: true,
			options: []string{"nosuid", "nodev", "noexec", "ro"}}},
	}
	for _, tt := range tests {
		got, err := parseMountFlag(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseMountFlagBad(t *testing.T) {
	for _, in := range []string{
		"", "type=bind", "type=bind,target=/x", // no source
		"type=bind,source=rel,target=/x",             // relative source
		"type=bind,source=/a",                        // no target
		"type=bind,source=/a,target=x",               // relative target
		"type=bind,source=/a,target=/",               // the root
		"type=bind,source=/a,target=/proc",           // /proc
		"type=nfs,source=/a,target=/x",               // unknown type
		"type=bind,source=/a,target=/x,bogus=1",      // unknown key
		"type=bind,source=/a,target=/x,readonly=yes", // bad bool
		"type=bind,source=/a,target=/x,tmpfs-size=1m",
		"type=bind,source=/a,target=/x,volume-nocopy",
		"type=bind,source=/a,target=/x,bind-propagation=shared",
		"type=bind,source",                      // no value
		"type=volume,source=a/b,target=/x",      // bad volume name
		"type=tmpfs,source=/a,target=/x",        // a tmpfs has no source
		"type=tmpfs,target=/x,tmpfs-size=lots",  // bad size
		"type=tmpfs,target=/x,tmpfs-size=0",     // zero size
		"type=tmpfs,target=/x,tmpfs-mode=999",   // not octal
		"type=tmpfs,target=/x,tmpfs-mode=17777", // too large
		`type=bind,"source=/a`,                  // broken CSV
	} {
		_, err := parseMountFlag(in)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: want an invalid-input error, got %v", in, err)
		}
	}
}

func TestParseTmpfsFlag(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ro   bool
	}{
		{"/run", []string{"nosuid", "nodev", "noexec"}, false},
		{"/run:size=64m", []string{"nosuid", "nodev", "noexec", "size=67108864"}, false},
		{"/run:size=1.5k,mode=1777", []string{"nosuid", "nodev", "noexec", "size=1536", "mode=1777"}, false},
		{"/run:exec,suid,dev,uid=1000,gid=1000,nr_inodes=100", []string{"uid=1000", "gid=1000", "nr_inodes=100"}, false},
		{"/run:ro,size=4096", []string{"nosuid", "nodev", "noexec", "ro", "size=4096"}, true},
		{"/run:ro,rw", []string{"nosuid", "nodev", "noexec"}, false},
		{"/run:size=2MiB", []string{"nosuid", "nodev", "noexec", "size=2097152"}, false},
	}
	for _, tt := range tests {
		got, err := parseTmpfsFlag(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got.options, tt.want) || got.ReadOnly != tt.ro || got.Type != "tmpfs" || got.Destination != "/run" {
			t.Errorf("%q: got %+v, want options %v ro %v", tt.in, got, tt.want, tt.ro)
		}
	}
	for _, in := range []string{
		"", "run", ":size=1m", "/", "/proc", "/run:size=", "/run:size=-1", "/run:size=1x",
		"/run:size=0", "/run:mode=8", "/run:mode=", "/run:uid=x", "/run:bogus", "/run:noatime", "/run:size",
	} {
		if _, err := parseTmpfsFlag(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: want an invalid-input error, got %v", in, err)
		}
	}
}

func TestMountRequestsDuplicate(t *testing.T) {
	o := RunOptions{Volumes: []string{"/a:/x"}, Tmpfs: []string{"/x/"}}
	if _, err := o.mountRequests(); !errors.Is(err, ErrInvalid) {
		t.Errorf("a target mounted twice: want an invalid-input error, got %v", err)
	}
}

func TestWithUserMounts(t *testing.T) {
	defaults := defaultMounts("/c", false)
	user := []MountPoint{
		{Type: "bind", Source: "/h/sub", Destination: "/data/sub"},
		{Type: "bind", Source: "/h", Destination: "/data", ReadOnly: true},
		{Type: "bind", Source: "/my/hosts", Destination: "/etc/hosts"},
		{Type: "tmpfs", Destination: "/dev/shm", options: []string{"size=1"}},
	}
	got := withUserMounts(defaults, user)
	var dests []string
	for _, m := range got {
		dests = append(dests, m.Destination)
	}
	want := []string{"/proc", "/dev", "/sys", "/data", "/dev/pts", "/dev/mqueue", "/etc/hostname",
		"/etc/resolv.conf", "/data/sub", "/etc/hosts", "/dev/shm"}
	if !reflect.DeepEqual(dests, want) {
		t.Fatalf("order:\n got %v\nwant %v", dests, want)
	}
	for _, m := range got {
		switch m.Destination {
		case "/data":
			if m.Type != "bind" || m.Source != "/h" || !reflect.DeepEqual(m.Options, []string{"rbind", "rprivate", "ro"}) {
				t.Errorf("/data: %+v", m)
			}
		case "/etc/hosts":
			if m.Source != "/my/hosts" {
				t.Errorf("the user's /etc/hosts should replace the default: %+v", m)
			}
		case "/dev/shm":
			if m.Source != "tmpfs" || !reflect.DeepEqual(m.Options, []string{"size=1"}) {
				t.Errorf("/dev/shm: %+v", m)
			}
		}
	}
}
