package oci

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// An idmapped mount (mounts[].uidMappings/gidMappings, the idmap and
// ridmap options) shows its files' owners through a mapping: a file the
// source's filesystem says is uid U shows as the uid the mapping gives U
// (U as a containerID, read as its hostID), and a file made through it is
// stored the other way round. It is made on the host side, where hutch is
// root over the user namespace that carries the mapping: a detached clone
// of the source (open_tree), idmapped (mount_setattr), handed to the init,
// which moves it into place (the movemount op).

// idmapOf says whether m is an idmapped mount: its mappings (nil: the
// container's user namespace's) and whether the mapping is recursive.
func idmapOf(m specs.Mount) (idmapped, recursive bool) {
	idmap, ridmap := slices.Contains(m.Options, "idmap"), slices.Contains(m.Options, "ridmap")
	return idmap || ridmap || len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0, ridmap
}

// checkIdmap refuses an idmapped mount the spec or hutch does not allow.
func checkIdmap(spec *specs.Spec, m specs.Mount) error {
	idmapped, _ := idmapOf(m)
	if !idmapped {
		return nil
	}
	flags, _ := mountOptions(m.Options)
	switch {
	case m.Type != "bind" && flags&unix.MS_BIND == 0:
		return errors.New("idmapped: only a bind mount can be idmapped")
	case (len(m.UIDMappings) > 0) != (len(m.GIDMappings) > 0):
		return errors.New("idmapped: uidMappings and gidMappings go together")
	case len(m.UIDMappings) == 0:
		if found, _ := hasNamespace(spec, specs.UserNamespace); !found {
			return errors.New("idmapped: no uidMappings/gidMappings, and no user namespace whose mappings to use")
		}
	}
	return nil
}

// idmapAttrs are mount_setattr's attributes for m's options: the idmap
// itself goes with them in one call, so no remount is needed after.
func idmapAttrs(m specs.Mount) uint64 {
	flags, _ := mountOptions(m.Options)
	attr := uint64(unix.MOUNT_ATTR_IDMAP)
	for flag, a := range map[int]uint64{unix.MS_RDONLY: unix.MOUNT_ATTR_RDONLY, unix.MS_NOSUID: unix.MOUNT_ATTR_NOSUID,
		unix.MS_NODEV: unix.MOUNT_ATTR_NODEV, unix.MS_NOEXEC: unix.MOUNT_ATTR_NOEXEC} {
		if flags&flag != 0 {
			attr |= a
		}
	}
	return attr
}

// OpenIdmapped makes the spec's idmapped mounts, detached: each open at
// its index in spec.Mounts. The caller closes them.
func OpenIdmapped(spec *specs.Spec) (map[int]*os.File, error) {
	out := map[int]*os.File{}
	closeAll := func() {
		for _, f := range out {
			f.Close()
		}
	}
	for i, m := range spec.Mounts {
		if idmapped, _ := idmapOf(m); !idmapped {
			continue
		}
		f, err := openIdmapped(spec, m)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("mount %s: %w", m.Destination, err)
		}
		out[i] = f
	}
	return out, nil
}

func openIdmapped(spec *specs.Spec, m specs.Mount) (*os.File, error) {
	userns, err := mountUserns(spec, m)
	if err != nil {
		return nil, err
	}
	defer userns.Close()
	flags, _ := mountOptions(m.Options)
	treeFlags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if flags&unix.MS_REC != 0 {
		treeFlags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, m.Source, treeFlags)
	if err != nil {
		return nil, fmt.Errorf("idmapped: clone %s: %w", m.Source, err)
	}
	tree := os.NewFile(uintptr(fd), "idmapped:"+m.Source)
	setFlags := unix.AT_EMPTY_PATH
	if _, recursive := idmapOf(m); recursive {
		setFlags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: idmapAttrs(m), Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", uint(setFlags), &attr); err != nil {
		tree.Close()
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			return nil, fmt.Errorf("idmapped: %s: this kernel or filesystem cannot idmap a mount (%v)", m.Source, err)
		}
		return nil, fmt.Errorf("idmapped: %s: %w", m.Source, err)
	}
	return tree, nil
}

// mountUserns is a user namespace that carries m's mappings: the
// container's own if the mount has none and the container joins one by
// path; otherwise a new one, with m's or the container's mappings.
func mountUserns(spec *specs.Spec, m specs.Mount) (*os.File, error) {
	uid, gid := m.UIDMappings, m.GIDMappings
	if len(uid) == 0 {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == specs.UserNamespace && ns.Path != "" {
				return os.Open(ns.Path)
			}
		}
		uid, gid = spec.Linux.UIDMappings, spec.Linux.GIDMappings
	}
	return newUserns(uid, gid)
}

// newUserns makes a user namespace with these mappings, held by nothing
// but the descriptor returned. Go cannot fork without an exec: the
// process that makes it is stopped by ptrace before its exec runs a thing
// (as runc does), and killed once its namespace is open.
func newUserns(uid, gid []specs.LinuxIDMapping) (*os.File, error) {
	goruntime.LockOSThread() // the tracer is this thread
	defer goruntime.UnlockOSThread()
	proc, err := os.StartProcess("/proc/self/exe", []string{"hutch-userns"}, &os.ProcAttr{Sys: &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWUSER, UidMappings: idMaps(uid), GidMappings: idMaps(gid), Ptrace: true,
	}})
	if err != nil {
		return nil, fmt.Errorf("idmapped: make a user namespace: %w", err)
	}
	defer func() {
		proc.Kill()
		proc.Wait()
	}()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", proc.Pid))
	if err != nil {
		return nil, fmt.Errorf("idmapped: %w", err)
	}
	return f, nil
}
