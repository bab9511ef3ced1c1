package user

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

const passwd = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/bin/false

www-data:x:33:33:www-data:/var/www:/bin/false
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bad:x:notanumber:1:bad:/:/bin/sh
short:x:2000
nohome:x:1001:1001
`

const group = `root:x:0:
wheel:x:10:root,alice
staff:x:50:alice
alice:x:1000:
users:x:100:bob
broken:x:xx:alice
`

func TestParse(t *testing.T) {
	tests := []struct {
		spec    string
		want    User
		wantErr string
	}{
		{spec: "", want: User{UID: 0, GID: 0, AdditionalGids: []uint32{10}, Home: "/root", Name: "root"}},
		{spec: "root", want: User{UID: 0, GID: 0, AdditionalGids: []uint32{10}, Home: "/root", Name: "root"}},
		{spec: "0", want: User{UID: 0, GID: 0, AdditionalGids: []uint32{10}, Home: "/root", Name: "root"}},
		{spec: "alice", want: User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 50}, Home: "/home/alice", Name: "alice"}},
		{spec: "1000", want: User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 50}, Home: "/home/alice", Name: "alice"}},
		{spec: "www-data", want: User{UID: 33, GID: 33, Home: "/var/www", Name: "www-data"}},
		{spec: "alice:staff", want: User{UID: 1000, GID: 50, Home: "/home/alice", Name: "alice"}},
		{spec: "alice:4242", want: User{UID: 1000, GID: 4242, Home: "/home/alice", Name: "alice"}},
		{spec: "1000:50", want: User{UID: 1000, GID: 50, Home: "/home/alice", Name: "alice"}},
		{spec: "33:staff", want: User{UID: 33, GID: 50, Home: "/var/www", Name: "www-data"}},
		{spec: "4242", want: User{UID: 4242, GID: 0, Home: "/"}},
		{spec: "4242:4343", want: User{UID: 4242, GID: 4343, Home: "/"}},
		{spec: ":50", want: User{UID: 0, GID: 50, Home: "/root", Name: "root"}},
		{spec: "nohome", want: User{UID: 1001, GID: 1001, Home: "/", Name: "nohome"}},
		{spec: "bob", wantErr: "unable to find user bob: no matching entries in passwd file"},
		{spec: "short", wantErr: "unable to find user short: no matching entries in passwd file"},
		{spec: "alice:nogroup", wantErr: "unable to find group nogroup: no matching entries in group file"},
		{spec: "alice:broken", wantErr: "unable to find group broken"},
		{spec: "alice:", wantErr: "empty group"},
		{spec: "99999999999", wantErr: "uids and gids must be in range 0-2147483647"},
		{spec: "1:99999999999", wantErr: "uids and gids must be in range"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.spec, strings.NewReader(passwd), strings.NewReader(group))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) error = %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.spec, got, tt.want)
		}
	}
}

func TestParseNoFiles(t *testing.T) {
	tests := []struct {
		spec    string
		want    User
		wantErr string
	}{
		{spec: "", want: User{Home: "/root", Name: "root"}},
		{spec: "0:0", want: User{Home: "/root", Name: "root"}},
		{spec: "1000:1000", want: User{UID: 1000, GID: 1000, Home: "/"}},
		{spec: "root", wantErr: "unable to find user root: no matching entries in passwd file"},
		{spec: "1000:users", wantErr: "unable to find group users"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.spec, nil, nil)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q, nil, nil) error = %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q, nil, nil) = %+v, %v, want %+v", tt.spec, got, err, tt.want)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLookup(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/passwd"), passwd)
	// A symlink that stays inside the image is followed.
	writeFile(t, filepath.Join(root, "usr/lib/group"), group)
	if err := os.Symlink("../usr/lib/group", filepath.Join(root, "etc/group")); err != nil {
		t.Fatal(err)
	}
	got, err := Lookup(root, "alice")
	want := User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 50}, Home: "/home/alice", Name: "alice"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Lookup(alice) = %+v, %v, want %+v", got, err, want)
	}
}

// An image whose etc/passwd points at a host file must not read it.
func TestLookupSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "shadow")
	writeFile(t, secret, "evil:x:4242:4242:host secret:/secret:/bin/sh\n")

	for name, target := range map[string]string{
		"absolute": secret,
		"relative": strings.Repeat("../", 20) + strings.TrimPrefix(secret, "/"),
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(root, "etc/passwd")); err != nil {
				t.Fatal(err)
			}
			if _, err := os.ReadFile(filepath.Join(root, "etc/passwd")); err != nil {
				t.Fatalf("test setup: a plain open should reach the secret: %v", err)
			}
			if u, err := Lookup(root, "evil"); err == nil {
				t.Fatalf("Lookup(evil) = %+v: read the host file through the symlink", u)
			} else if !strings.Contains(err.Error(), "unable to find user evil") {
				t.Fatalf("Lookup(evil) error = %v, want unable to find user", err)
			}
			// Treated as missing: numeric users still work.
			u, err := Lookup(root, "4242")
			if err != nil || u.Name != "" || u.Home != "/" {
				t.Errorf("Lookup(4242) = %+v, %v, want the host entry ignored", u, err)
			}
		})
	}
}

func TestLookupMissingAndSpecial(t *testing.T) {
	root := t.TempDir()
	u, err := Lookup(root, "1000:1000")
	if err != nil || u.UID != 1000 || u.GID != 1000 {
		t.Errorf("Lookup(empty rootfs, 1000:1000) = %+v, %v", u, err)
	}
	if _, err := Lookup(filepath.Join(root, "nope"), "0"); err == nil {
		t.Error("Lookup(missing rootfs) succeeded")
	}
	// A FIFO must not hang the lookup.
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Lookup(root, "0"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Lookup(fifo passwd) error = %v, want not a regular file", err)
	}
}
