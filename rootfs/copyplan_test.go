package rootfs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSourceBase(t *testing.T) {
	for in, want := range map[string]string{
		"/a/b": "b", "/a/b/": "b", "/a/b/.": ".", "b": "b", "/": ".", ".": ".", "/a/../b": "b", "a/./b/.": ".",
	} {
		if got := SourceBase(in); got != want {
			t.Errorf("SourceBase(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPlanCopy is Docker's table for cp: where a copy lands for each kind of source and
// destination.
func TestPlanCopy(t *testing.T) {
	dir := Info{Path: "/dst", Found: true, Mode: fs.ModeDir | 0o755}
	file := Info{Path: "/dst", Found: true, Mode: 0o644}
	missing := Info{Path: "/dst"}
	with := func(i Info, p string) Info { i.Path = p; return i }
	tests := []struct {
		name      string
		srcBase   string
		srcIsDir  bool
		dst       Info
		dir, base string
		err       string
	}{
		{"file to missing", "f", false, missing, "/", "dst", ""},
		{"file to missing dir", "f", false, with(missing, "/dst/"), "", "", "destination directory /dst/ does not exist"},
		{"file to missing dir/.", "f", false, with(missing, "/dst/."), "", "", "does not exist"},
		{"file over file", "f", false, file, "/", "dst", ""},
		{"file into dir", "f", false, dir, "/dst", "f", ""},
		{"file into dir/", "f", false, with(dir, "/dst/"), "/dst", "f", ""},
		{"dir to missing", "d", true, missing, "/", "dst", ""},
		{"dir to missing/", "d", true, with(missing, "/x/dst/"), "/x", "dst", ""},
		{"dir onto file", "d", true, file, "", "", "not a directory"},
		{"dir into dir", "d", true, dir, "/dst", "d", ""},
		{"dir content into dir", ".", true, dir, "/dst", ".", ""},
		{"dir content into dir/.", ".", true, with(dir, "/dst/."), "/dst", ".", ""},
		{"dir content to missing", ".", true, with(missing, "/a/new"), "/a", "new", ""},
	}
	for _, tt := range tests {
		d, b, err := PlanCopy(tt.srcBase, tt.srcIsDir, tt.dst)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: PlanCopy = %q, %q, %v; want an error with %q", tt.name, d, b, err, tt.err)
			}
			continue
		}
		if err != nil || d != tt.dir || b != tt.base {
			t.Errorf("%s: PlanCopy = %q, %q, %v; want %q, %q", tt.name, d, b, err, tt.dir, tt.base)
		}
	}
}

// TestHostDestination: a destination on the host follows symlinks (the copy goes where they
// point), and a missing one needs its parent.
func TestHostDestination(t *testing.T) {
	tmp := t.TempDir()
	os.Mkdir(filepath.Join(tmp, "dir"), 0o755)
	os.WriteFile(filepath.Join(tmp, "file"), nil, 0o644)
	os.Symlink("dir", filepath.Join(tmp, "dirlink"))
	os.Symlink(filepath.Join(tmp, "nothere"), filepath.Join(tmp, "dangling"))
	os.Symlink("loop", filepath.Join(tmp, "loop"))
	tests := []struct {
		in, path     string
		found, isDir bool
		err          string
	}{
		{"dir", "dir", true, true, ""},
		{"dir/", "dir/", true, true, ""},
		{"file", "file", true, false, ""},
		{"dirlink", "dir", true, true, ""},
		{"dangling", "nothere", false, false, ""},
		{"new", "new", false, false, ""},
		{"new/", "new/", false, false, ""},
		{"no/such", "", false, false, "no such file or directory"},
		{"file/new", "", false, false, "not a directory"},
		{"loop", "", false, false, "too many symbolic links"},
	}
	for _, tt := range tests {
		info, err := HostDestination(tmp + "/" + tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("HostDestination(%s) = %+v, %v; want an error with %q", tt.in, info, err, tt.err)
			}
			continue
		}
		want := filepath.Join(tmp, tt.path)
		if strings.HasSuffix(tt.path, "/") {
			want += "/"
		}
		if err != nil || info.Path != want || info.Found != tt.found || info.IsDir() != tt.isDir {
			t.Errorf("HostDestination(%s) = %+v, %v; want %s found %v dir %v", tt.in, info, err, want, tt.found, tt.isDir)
		}
	}
}
