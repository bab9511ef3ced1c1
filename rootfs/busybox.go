package rootfs

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoBusybox means the host has no statically linked busybox to build the built-in image from.
var ErrNoBusybox = errors.New("no static busybox on this host (install it: apt-get install busybox-static)")

// busyboxCandidates are looked at after PATH: hutch often runs with a minimal PATH (sudo, systemd).
var busyboxCandidates = []string{"/usr/bin/busybox", "/bin/busybox"}

const (
	etcPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
`
	etcGroup = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:
staff:x:50:
users:x:100:
nogroup:x:65534:
user:x:1000:
`
	etcNsswitch = "passwd: files\ngroup: files\nhosts: files dns\n"
)

// busyboxDirs are made in order, with exact modes; tmp dirs are sticky and world-writable.
var busyboxDirs = []struct {
	path string
	mode os.FileMode
}{
	{"bin", 0o755}, {"sbin", 0o755}, {"usr", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755},
	{"etc", 0o755}, {"root", 0o700}, {"tmp", 0o777 | os.ModeSticky}, {"var", 0o755}, {"var/tmp", 0o777 | os.ModeSticky},
	{"home", 0o755}, {"home/user", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755},
	{"run", 0o755},
}

// busyboxFiles are written under etc/. hostname, hosts and resolv.conf are empty mount points:
// the runtime bind-mounts each container's own files on them.
var busyboxFiles = []struct{ path, data string }{
	{"etc/passwd", etcPasswd},
	{"etc/group", etcGroup},
	{"etc/nsswitch.conf", etcNsswitch},
	{"etc/hostname", ""},
	{"etc/hosts", ""},
	{"etc/resolv.conf", ""},
}

// buildBusybox fills root with a busybox system: the binary, one link per applet, a minimal /etc.
func buildBusybox(root string) (int64, error) {
	bin, err := findBusybox()
	if err != nil {
		return 0, err
	}
	applets, err := busyboxApplets(bin)
	if err != nil {
		return 0, err
	}
	for _, d := range busyboxDirs {
		if err := mkdirMode(filepath.Join(root, d.path), d.mode); err != nil {
			return 0, fmt.Errorf("create /%s: %w", d.path, err)
		}
	}
	if err := os.Lchown(filepath.Join(root, "home/user"), 1000, 1000); err != nil {
		return 0, fmt.Errorf("chown /home/user: %w", err)
	}
	size, err := copyFile(bin, filepath.Join(root, "bin/busybox"), 0o755)
	if err != nil {
		return 0, err
	}
	for _, f := range busyboxFiles {
		if err := writeFileMode(filepath.Join(root, f.path), []byte(f.data), 0o644); err != nil {
			return 0, err
		}
		size += int64(len(f.data))
	}
	for _, a := range applets {
		p := filepath.Join(root, a)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, fmt.Errorf("link applet %s: %w", a, err)
		}
		if err := os.Symlink("/bin/busybox", p); err != nil && !errors.Is(err, os.ErrExist) {
			return 0, fmt.Errorf("link applet %s: %w", a, err)
		}
	}
	return size, nil
}

// findBusybox returns the first statically linked busybox: a dynamic one cannot run in an image
// that has no libc.
func findBusybox() (string, error) {
	candidates := busyboxCandidates
	if p, err := exec.LookPath("busybox"); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	for _, p := range candidates {
		if isStatic(p) {
			return p, nil
		}
	}
	return "", ErrNoBusybox
}

// isStatic reports whether path is an ELF executable that needs no program interpreter.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return false
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// busyboxApplets returns the applet paths (relative, e.g. "usr/bin/wget") that this busybox
// provides, as it reports them itself.
func busyboxApplets(bin string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("list applets of %s: %w", bin, err)
	}
	return parseApplets(out)
}

func parseApplets(out []byte) ([]string, error) {
	var applets []string
	for line := range bytes.Lines(out) {
		a := strings.TrimSpace(string(line))
		if a == "" || a == "bin/busybox" {
			continue
		}
		if clean := path.Clean(a); clean != a || path.IsAbs(a) || strings.HasPrefix(a, "../") {
			return nil, fmt.Errorf("list applets: unexpected applet path %q", a)
		}
		applets = append(applets, a)
	}
	if len(applets) == 0 {
		return nil, errors.New("list applets: busybox reported none")
	}
	return applets, nil
}

func copyFile(src, dst string, mode os.FileMode) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	n, err := io.Copy(out, in)
	if err == nil {
		err = out.Chmod(mode)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	return n, nil
}

func writeFileMode(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
