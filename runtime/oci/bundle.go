package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hutchrt/hutch/runtime/caps"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// LoadBundle reads and checks a bundle's config.json, with the root's path
// made absolute. What the host cannot give is refused here, before anything
// is made.
func LoadBundle(bundle string) (*specs.Spec, string, error) {
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(filepath.Join(abs, "config.json"))
	if err != nil {
		return nil, "", fmt.Errorf("read config.json: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, "", fmt.Errorf("config.json: %w", err)
	}
	if err := check(&spec, abs); err != nil {
		return nil, "", err
	}
	return &spec, abs, nil
}

// check refuses a spec this runtime cannot run as asked, naming the field.
func check(spec *specs.Spec, bundle string) error {
	switch {
	case spec.Version == "":
		return errors.New("config.json: ociVersion is not set")
	case !strings.HasPrefix(spec.Version, "1."):
		return fmt.Errorf("config.json: ociVersion %q: only 1.x is supported", spec.Version)
	case spec.Root == nil || spec.Root.Path == "":
		return errors.New("config.json: root.path is not set")
	case spec.Process == nil:
		return errors.New("config.json: process is not set")
	case len(spec.Process.Args) == 0:
		return errors.New("config.json: process.args is empty")
	case spec.Process.Cwd == "" || !filepath.IsAbs(spec.Process.Cwd):
		return fmt.Errorf("config.json: process.cwd %q is not an absolute path", spec.Process.Cwd)
	case spec.Linux == nil:
		return errors.New("config.json: linux is not set (only Linux containers run here)")
	}
	if !filepath.IsAbs(spec.Root.Path) {
		spec.Root.Path = filepath.Join(bundle, spec.Root.Path)
	}
	if st, err := os.Stat(spec.Root.Path); err != nil || !st.IsDir() {
		return fmt.Errorf("rootfs %s: not a directory", spec.Root.Path)
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		if _, ok := nsKinds[ns.Type]; !ok {
			return fmt.Errorf("namespace type %q: not one of pid, network, mount, ipc, uts, user, cgroup, time", ns.Type)
		}
		if _, err := os.Stat("/proc/self/ns/" + nsKinds[ns.Type]); err != nil {
			return fmt.Errorf("namespace %s: this kernel has no %s namespaces", ns.Type, ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("namespace %s: listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			if _, err := os.Stat(ns.Path); err != nil {
				return fmt.Errorf("namespace %s: %w", ns.Type, err)
			}
		}
	}
	seenLimit := map[string]bool{}
	for _, l := range spec.Process.Rlimits {
		if seenLimit[l.Type] {
			return fmt.Errorf("process.rlimits: %s listed twice", l.Type)
		}
		seenLimit[l.Type] = true
	}
	dropUnknownCaps(spec.Process.Capabilities)
	if (len(spec.Linux.UIDMappings) > 0 || len(spec.Linux.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return errors.New("config.json: uidMappings/gidMappings without a user namespace")
	}
	if seen[specs.UserNamespace] && !joined(spec, specs.UserNamespace) &&
		(len(spec.Linux.UIDMappings) == 0 || len(spec.Linux.GIDMappings) == 0) {
		return errors.New("config.json: a new user namespace needs uidMappings and gidMappings")
	}
	if p := spec.Process.ApparmorProfile; p != "" && !hostHasAppArmor() {
		return fmt.Errorf("process.apparmorProfile %q: AppArmor is not enabled on this host", p)
	}
	if spec.Process.SelinuxLabel != "" || spec.Linux.MountLabel != "" {
		if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
			return errors.New("process.selinuxLabel/linux.mountLabel: SELinux is not enabled on this host")
		}
		return errors.New("process.selinuxLabel/linux.mountLabel: SELinux labels are not supported by hutch")
	}
	// As runc: a name set in the host's UTS namespace would rename the host.
	if (spec.Hostname != "" || spec.Domainname != "") && !seen[specs.UTSNamespace] {
		return errors.New("config.json: hostname/domainname set without a uts namespace")
	}
	if len(spec.Linux.NetDevices) > 0 {
		return errors.New("linux.netDevices: moving host network devices into the container is not supported by hutch")
	}
	if spec.Linux.IntelRdt != nil {
		return errors.New("linux.intelRdt: Intel RDT is not supported by hutch")
	}
	if spec.Process.Terminal && spec.Process.ConsoleSize != nil && (spec.Process.ConsoleSize.Width == 0) != (spec.Process.ConsoleSize.Height == 0) {
		return errors.New("process.consoleSize: width and height must both be set")
	}
	return nil
}

// dropUnknownCaps drops, with a warning, the capabilities this host's
// kernel does not know: the spec says a runtime logs them, and should not
// fail for them.
func dropUnknownCaps(c *specs.LinuxCapabilities) {
	if c == nil {
		return
	}
	for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable, &c.Ambient} {
		kept := (*set)[:0]
		for _, name := range *set {
			if _, err := caps.Mask([]string{name}); err != nil {
				warnf("capability %s: %v; left out", name, err)
				continue
			}
			kept = append(kept, name)
		}
		*set = kept
	}
}

func joined(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	_, j := hasNamespace(spec, t)
	return j
}

func hostHasAppArmor() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.TrimSpace(string(b)) == "Y"
}

// nsKinds are the spec's namespace types as /proc/<pid>/ns/ names them.
var nsKinds = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}
