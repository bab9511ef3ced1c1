package rootfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/flock"
)

// ErrNoVolume is returned, wrapped with the name, for a volume that does not exist.
var ErrNoVolume = errors.New("no such volume")

// AnonymousLabel marks a volume made by -v CTR, as Docker marks it: rm -v,
// run --rm and volume prune (without --all) remove only these.
const AnonymousLabel = "com.docker.volume.anonymous"

const (
	volumeMeta = "volume.json"
	volumeData = "_data"
)

// Volume is a local volume as Docker's `volume inspect` shows it.
type Volume struct {
	CreatedAt  time.Time         `json:"CreatedAt"`
	Driver     string            `json:"Driver"`
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
}

// Anonymous reports whether v was made by -v CTR.
func (v Volume) Anonymous() bool { _, ok := v.Labels[AnonymousLabel]; return ok }

// Volumes keeps named volumes as <dir>/<name>/{volume.json,_data/}
// (Docker's layout); _data is what containers mount.
type Volumes struct {
	dir string
}

// NewVolumes returns the volume store rooted at dir, created on first write.
func NewVolumes(dir string) *Volumes { return &Volumes{dir: dir} }

// DataPath is where the volume name's content lives on the host.
func (s *Volumes) DataPath(name string) string { return filepath.Join(s.dir, name, volumeData) }

// validVolumeName is Docker's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+, which also
// keeps a name one safe path component.
func validVolumeName(name string) error {
	if len(name) < 2 || len(name) > 255 || !nameChars(name) {
		return fmt.Errorf("volume name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters", name)
	}
	return nil
}

// Lock takes the store's lock, for callers that must check and change
// volumes in one step (volume rm: no container may start using it meanwhile).
func (s *Volumes) Lock() (unlock func(), err error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create volume store: %w", err)
	}
	unlock, err = flock.Exclusive(filepath.Join(s.dir, lockName))
	if err != nil {
		return nil, err
	}
	if stale, _ := filepath.Glob(filepath.Join(s.dir, tmpPrefix+"*")); len(stale) > 0 {
		for _, p := range stale {
			os.RemoveAll(p) // left by a create that died half-way
		}
	}
	return unlock, nil
}

// Create makes a volume, or returns the one of that name (as Docker's
// `volume create` does); created says which.
func (s *Volumes) Create(name string, labels map[string]string) (v Volume, created bool, err error) {
	if err := validVolumeName(name); err != nil {
		return Volume{}, false, err
	}
	unlock, err := s.Lock()
	if err != nil {
		return Volume{}, false, err
	}
	defer unlock()
	return s.CreateLocked(name, labels)
}

// CreateLocked is Create for a caller holding Lock.
func (s *Volumes) CreateLocked(name string, labels map[string]string) (Volume, bool, error) {
	if v, err := s.read(name); err == nil {
		return v, false, nil
	} else if !errors.Is(err, ErrNoVolume) {
		return Volume{}, false, err
	}
	// Built under a temp name and renamed in: a volume either exists whole or not at all.
	tmp, err := os.MkdirTemp(s.dir, tmpPrefix)
	if err != nil {
		return Volume{}, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	v := Volume{
		CreatedAt: time.Now().UTC().Truncate(time.Second), Driver: "local", Labels: labels,
		Mountpoint: s.DataPath(name), Name: name, Scope: "local",
	}
	meta, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		err = mkdirMode(filepath.Join(tmp, volumeData), 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, volumeMeta), append(meta, '\n'), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, name))
	}
	if err != nil {
		return Volume{}, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	return v, true, nil
}

// Get returns the volume name.
func (s *Volumes) Get(name string) (Volume, error) {
	if validVolumeName(name) != nil {
		return Volume{}, fmt.Errorf("%w: %s", ErrNoVolume, name)
	}
	return s.read(name)
}

func (s *Volumes) read(name string) (Volume, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, name, volumeMeta))
	if errors.Is(err, fs.ErrNotExist) {
		return Volume{}, fmt.Errorf("%w: %s", ErrNoVolume, name)
	}
	if err != nil {
		return Volume{}, fmt.Errorf("volume %s: %w", name, err)
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return Volume{}, fmt.Errorf("volume %s: %w", name, err)
	}
	v.Mountpoint = s.DataPath(name) // the root may have moved
	return v, nil
}

// List returns every volume, by name.
func (s *Volumes) List() ([]Volume, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []Volume
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		v, err := s.read(e.Name())
		if errors.Is(err, ErrNoVolume) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RemoveLocked deletes a volume and its content; the caller holds Lock
// and has checked that no container uses it.
func (s *Volumes) RemoveLocked(name string) error {
	if _, err := s.Get(name); err != nil {
		return err
	}
	// Renamed away first: a half-removed volume never looks whole.
	tmp := filepath.Join(s.dir, tmpPrefix+name)
	if err := os.Rename(filepath.Join(s.dir, name), tmp); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// Seed copies the image's content at path (resolved inside imageRoot, as
// the container will see it) into the volume name, if the volume is empty
// and the image has a directory there, as Docker does on first use. Only
// directories, regular files and symlinks are copied, with their modes and
// owners; every open is relative to a directory already opened and never
// follows a symlink, so nothing outside the image is read.
func (s *Volumes) Seed(name, imageRoot, path string) error {
	dst := s.DataPath(name)
	ents, err := os.ReadDir(dst)
	if err != nil {
		return fmt.Errorf("seed volume %s: %w", name, err)
	}
	if len(ents) > 0 {
		return nil
	}
	root, err := unix.Open(imageRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("seed volume %s: %w", name, err)
	}
	defer unix.Close(root)
	src, err := unix.Openat2(root, strings.TrimLeft(path, "/"), &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil // nothing there to copy
	}
	if err != nil {
		return fmt.Errorf("seed volume %s from %s: %w", name, path, err)
	}
	d, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(src)
		return fmt.Errorf("seed volume %s: %w", name, err)
	}
	defer unix.Close(d)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err == nil {
		unix.Fchown(d, int(st.Uid), int(st.Gid))
		unix.Fchmod(d, st.Mode&0o7777)
	}
	if err := copyDir(src, d); err != nil {
		return fmt.Errorf("seed volume %s from %s: %w", name, path, err)
	}
	return nil
}

// copyDir copies the entries of the directory open at src into the one open
// at dst, and closes src.
func copyDir(src, dst int) error {
	dir := os.NewFile(uintptr(src), "src")
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(src, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		mode := st.Mode & 0o7777
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := unix.Mkdirat(dst, n, 0o700); err != nil {
				return err
			}
			sub, err := unix.Openat(src, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			dsub, err := unix.Openat(dst, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				unix.Close(sub)
				return err
			}
			err = copyDir(sub, dsub)
			if err == nil {
				err = unix.Fchown(dsub, int(st.Uid), int(st.Gid))
			}
			if err == nil {
				err = unix.Fchmod(dsub, mode)
			}
			unix.Close(dsub)
			if err != nil {
				return err
			}
		case unix.S_IFREG:
			if err := copyFileAt(src, dst, n, st); err != nil {
				return err
			}
		case unix.S_IFLNK:
			buf := make([]byte, unix.PathMax)
			l, err := unix.Readlinkat(src, n, buf)
			if err != nil {
				return err
			}
			if err := unix.Symlinkat(string(buf[:l]), dst, n); err != nil {
				return err
			}
			if err := unix.Fchownat(dst, n, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
		default:
			// Devices, sockets and FIFOs: an image has none worth copying (import refuses devices).
		}
	}
	return nil
}

func copyFileAt(src, dst int, name string, st unix.Stat_t) error {
	in, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	inf := os.NewFile(uintptr(in), name)
	defer inf.Close()
	out, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	outf := os.NewFile(uintptr(out), name)
	defer outf.Close()
	if _, err := io.Copy(outf, inf); err != nil {
		return err
	}
	if err := unix.Fchown(out, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	// After the chown, which clears setuid and setgid bits.
	return unix.Fchmod(out, st.Mode&0o7777)
}
