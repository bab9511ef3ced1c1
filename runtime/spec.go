package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Annotations carry what the OCI spec has no field for.
const (
	annotLowerDir = "org.hutch.rootfs.lower"    // image root filesystem (read-only layer)
	annotInit     = "org.hutch.init"            // "true": keep a reaper as pid 1
	annotNetwork  = "org.hutch.network"         // none, host, container:ID or a network's name
	annotVolatile = "org.hutch.rootfs.volatile" // "true": the upper layer is thrown away at exit
)

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// maxNofile is Docker's default RLIMIT_NOFILE, capped by what the host allows.
const maxNofile = 1048576

// specInput is everything NewSpec needs, already validated and resolved.
type specInput struct {
	ID, Dir         string // container id and directory
	LowerDir        string // image rootfs
	Args, Env       []string
	Cwd, Hostname   string
	UID, GID        uint32
	AdditionalGids  []uint32
	Home            string
	Tty             bool
	Caps            *specs.LinuxCapabilities
	NoNewPrivileges bool
	ReadOnly        bool
	Privileged      bool
	Init            bool
	Volatile        bool // --rm: the upper layer is thrown away at exit
	Network         string
	Resources       *specs.LinuxResources
	HostNofileHard  uint64
}

// newSpec builds the container's OCI spec: Docker's defaults for mounts,
// masked paths and namespaces. It is pure: the caller gathers host facts.
func newSpec(in specInput) *specs.Spec {
	env := []string{defaultPath, "HOSTNAME=" + in.Hostname}
	if in.Tty {
		env = append(env, "TERM=xterm")
	}
	if in.Home != "" {
		env = append(env, "HOME="+in.Home)
	}
	env = mergeEnv(env, in.Env)

	nofile := uint64(maxNofile)
	if in.HostNofileHard < nofile {
		nofile = in.HostNofileHard
	}
	cwd := in.Cwd
	if cwd == "" {
		cwd = "/"
	}
	namespaces := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}, {Type: specs.UTSNamespace},
		{Type: specs.IPCNamespace}, {Type: specs.CgroupNamespace},
	}
	// host shares the host's namespace; container:ID joins another's (its
	// path changes with every start, so the init is handed it at start).
	if in.Network != "host" && !strings.HasPrefix(in.Network, "container:") {
		namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}

	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal:        in.Tty,
			User:            specs.User{UID: in.UID, GID: in.GID, AdditionalGids: in.AdditionalGids},
			Args:            in.Args,
			Env:             env,
			Cwd:             cwd,
			Capabilities:    in.Caps,
			NoNewPrivileges: in.NoNewPrivileges,
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: nofile, Soft: nofile}},
		},
		Root:     &specs.Root{Path: filepath.Join(in.Dir, "rootfs"), Readonly: in.ReadOnly},
		Hostname: in.Hostname,
		Mounts:   defaultMounts(in.Dir, in.Privileged),
		Annotations: map[string]string{
			annotLowerDir: in.LowerDir,
			annotNetwork:  in.Network,
		},
		Linux: &specs.Linux{
			Namespaces:  namespaces,
			Resources:   in.Resources,
			CgroupsPath: "/hutch/" + in.ID,
		},
	}
	if in.Init {
		s.Annotations[annotInit] = "true"
	}
	if in.Volatile {
		s.Annotations[annotVolatile] = "true"
	}
	if !in.Privileged {
		s.Linux.MaskedPaths = maskedPaths
		s.Linux.ReadonlyPaths = readonlyPaths
	}
	return s
}

// Docker's defaults (moby oci/defaults.go).
var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

func defaultMounts(dir string, privileged bool) []specs.Mount {
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	if privileged {
		sysOpts = []string{"nosuid", "noexec", "nodev"}
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
		{Destination: "/etc/hostname", Type: "bind", Source: filepath.Join(dir, "hostname"), Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hosts", Type: "bind", Source: filepath.Join(dir, "hosts"), Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: filepath.Join(dir, "resolv.conf"), Options: []string{"rbind", "rprivate"}},
	}
}

// mergeEnv appends extra to base; a key in extra replaces the same key in base.
func mergeEnv(base, extra []string) []string {
	out := append([]string(nil), base...)
	for _, e := range extra {
		k := envKey(e)
		replaced := false
		for i, b := range out {
			if envKey(b) == k {
				out[i], replaced = e, true
				break
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}

func envKey(e string) string {
	for i := 0; i < len(e); i++ {
		if e[i] == '=' {
			return e[:i]
		}
	}
	return e
}

// hostNofileHard is the host's hard RLIMIT_NOFILE: a container never asks
// for more (raising it needs CAP_SYS_RESOURCE, which this host lacks).
func hostNofileHard() uint64 {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 1024
	}
	return r.Max
}

func loadSpec(dir string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read config.json: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode config.json: %w", err)
	}
	if s.Process == nil || len(s.Process.Args) == 0 || s.Root == nil || s.Linux == nil {
		return nil, errors.New("config.json: process, root or linux missing")
	}
	return &s, nil
}
