package runtime

import (
	"net"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/runtime/logs"
	"github.com/hutchrt/hutch/runtime/oci"
)

// The run flags that shape the container's spec beyond Docker's defaults:
// --ulimit, --sysctl, --device, --shm-size, --cgroupns and --platform. Each
// parser is pure but for the host facts it is handed, and refuses bad input
// before anything exists.

// ulimitNames are Docker's --ulimit names and their rlimits.
var ulimitNames = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"rttime": unix.RLIMIT_RTTIME, "sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

// parseUlimits reads --ulimit NAME=SOFT[:HARD] (Docker's form; -1 is
// unlimited). hostHard says the host's hard limit of a resource: a
// container is never given more, since raising a hard limit needs
// CAP_SYS_RESOURCE.
func parseUlimits(vals []string, hostHard func(resource int) uint64) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	seen := map[string]bool{}
	for _, v := range vals {
		name, limits, ok := strings.Cut(v, "=")
		res, known := ulimitNames[name]
		if !ok || !known {
			return nil, invalidf("--ulimit %q: want NAME=SOFT[:HARD] with NAME one of %s", shorten(v), strings.Join(sortedNames(ulimitNames), ", "))
		}
		softS, hardS, hasHard := strings.Cut(limits, ":")
		if !hasHard {
			hardS = softS
		}
		soft, err1 := parseLimit(softS)
		hard, err2 := parseLimit(hardS)
		if err1 != nil || err2 != nil {
			return nil, invalidf("--ulimit %q: limits are numbers (-1: unlimited)", shorten(v))
		}
		if soft > hard {
			return nil, invalidf("--ulimit %s: soft limit %s is above the hard limit %s", name, softS, hardS)
		}
		if max := hostHard(res); hard > max {
			return nil, invalidf("--ulimit %s: hard limit %s is above the host's %d (raising it needs CAP_SYS_RESOURCE)", name, hardS, max)
		}
		if seen[name] {
			return nil, invalidf("--ulimit %s: given twice", name)
		}
		seen[name] = true
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: soft, Hard: hard})
	}
	return out, nil
}

func parseLimit(s string) (uint64, error) {
	if s == "-1" || s == "unlimited" {
		return unix.RLIM_INFINITY, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

func sortedNames[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ { // a few names: insertion sort
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// withRlimits replaces the spec's rlimits of the same type by the user's.
func withRlimits(base, user []specs.POSIXRlimit) []specs.POSIXRlimit {
	var out []specs.POSIXRlimit
	given := map[string]bool{}
	for _, r := range user {
		given[r.Type] = true
	}
	for _, r := range base {
		if !given[r.Type] {
			out = append(out, r)
		}
	}
	return append(out, user...)
}

// hostHardLimit is this process's hard limit of resource.
func hostHardLimit(resource int) uint64 {
	var r unix.Rlimit
	if err := unix.Getrlimit(resource, &r); err != nil {
		return 0
	}
	return r.Max
}

// parseSysctls reads --sysctl KEY=VALUE. Only the container's own
// (namespaced) ones are allowed, as Docker does: the IPC namespace's and
// net.* (not with --network host, where they would be the host's).
func parseSysctls(vals []string, network string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range vals {
		key, val, ok := strings.Cut(v, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, "/\x00 ") || strings.Contains(key, "..") {
			return nil, invalidf("--sysctl %q: want KEY=VALUE", shorten(v))
		}
		// The OCI core's table of which namespace a sysctl is in; the UTS
		// namespace's are not for --sysctl (Docker's: --hostname is).
		switch ns, _ := oci.SysctlNamespace(key); ns {
		case specs.IPCNamespace:
			// the IPC namespace is always the container's own
		case specs.NetworkNamespace:
			if network == "host" || strings.HasPrefix(network, "container:") {
				return nil, invalidf("--sysctl %s: not allowed with --network %s (the namespace is not the container's own)", key, network)
			}
		default:
			return nil, invalidf("--sysctl %s: not allowed: only namespaced sysctls (net.*, kernel.msg*/shm*/sem, fs.mqueue.*) can be set, others would change the host", key)
		}
		out[key] = val
	}
	return out, nil
}

// deviceRequest is one --device: the host's node, its path inside and the
// cgroup access.
type deviceRequest struct {
	Host, Ctr, Access string
}

// parseDevice reads --device HOST[:CTR][:PERMS] (PERMS of r, w, m).
func parseDevice(v string) (deviceRequest, error) {
	parts := strings.Split(v, ":")
	d := deviceRequest{Access: "rwm"}
	switch len(parts) {
	case 3:
		d.Host, d.Ctr, d.Access = parts[0], parts[1], parts[2]
	case 2:
		d.Host = parts[0]
		if validAccess(parts[1]) {
			d.Access = parts[1]
		} else {
			d.Ctr = parts[1]
		}
	case 1:
		d.Host = parts[0]
	default:
		return d, invalidf("--device %q: want HOST[:CONTAINER][:PERMISSIONS]", shorten(v))
	}
	if d.Ctr == "" {
		d.Ctr = d.Host
	}
	if !path.IsAbs(d.Host) || !path.IsAbs(d.Ctr) {
		return d, invalidf("--device %q: paths must be absolute", shorten(v))
	}
	if !validAccess(d.Access) {
		return d, invalidf("--device %q: permissions %q are not a combination of r, w and m", shorten(v), d.Access)
	}
	d.Ctr = path.Clean(d.Ctr)
	return d, nil
}

func validAccess(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	seen := map[rune]bool{}
	for _, r := range s {
		if !strings.ContainsRune("rwm", r) || seen[r] {
			return false
		}
		seen[r] = true
	}
	return true
}

// devices resolves --device requests against the host's nodes: the spec's
// device and the cgroup rule that lets the container use it.
func devices(vals []string) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	for _, v := range vals {
		req, err := parseDevice(v)
		if err != nil {
			return nil, nil, err
		}
		var st unix.Stat_t
		if err := unix.Stat(req.Host, &st); err != nil {
			return nil, nil, invalidf("--device %s: %v", req.Host, &os.PathError{Op: "stat", Path: req.Host, Err: err})
		}
		var typ string
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = "c"
		case unix.S_IFBLK:
			typ = "b"
		default:
			return nil, nil, invalidf("--device %s: not a device node", req.Host)
		}
		major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		devs = append(devs, specs.LinuxDevice{Path: req.Ctr, Type: typ, Major: major, Minor: minor, FileMode: &mode, UID: &uid, GID: &gid})
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: req.Access})
	}
	return devs, rules, nil
}

// parseShmSize reads --shm-size (bytes, or with b, k, m, g).
func parseShmSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := parseTmpfsSize(s)
	if err != nil {
		return 0, invalidf("--shm-size %q: %v", shorten(s), err)
	}
	return n, nil
}

// withShmSize sets /dev/shm's size in the default mounts.
func withShmSize(mounts []specs.Mount, size int64) {
	for i, m := range mounts {
		if m.Destination != "/dev/shm" {
			continue
		}
		var opts []string
		for _, o := range m.Options {
			if !strings.HasPrefix(o, "size=") {
				opts = append(opts, o)
			}
		}
		mounts[i].Options = append(opts, "size="+strconv.FormatInt(size, 10))
	}
}

// checkCgroupns reads --cgroupns: host or private ("" is private, Docker's
// default on cgroup v2 and ours everywhere).
func checkCgroupns(mode string) error {
	switch mode {
	case "", "private", "host":
		return nil
	}
	return invalidf("--cgroupns %q: want host or private", shorten(mode))
}

// withoutNamespace drops t from the spec's namespaces (--cgroupns host).
func withoutNamespace(nss []specs.LinuxNamespace, t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range nss {
		if ns.Type != t {
			out = append(out, ns)
		}
	}
	return out
}

// cgroupMount is Docker's /sys/fs/cgroup: the container's own groups,
// read-only (the init binds them, see oci.InitOptions.CgroupBinds).
var cgroupMount = specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
	Options: []string{"ro", "nosuid", "noexec", "nodev", "relatime"}}

// checkPlatform refuses a --platform other than this host's: hutch runs
// images natively only (no emulation).
func checkPlatform(p string) error {
	if p == "" {
		return nil
	}
	host := "linux/" + goruntime.GOARCH
	norm := strings.ToLower(strings.TrimSuffix(p, "/"))
	if norm == host || norm == "linux" || norm == goruntime.GOARCH {
		return nil
	}
	return invalidf("--platform %q: hutch runs %s images only (no emulation)", shorten(p), host)
}

// parseMAC reads --mac-address: a unicast Ethernet address.
func parseMAC(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, nil
	}
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, invalidf("--mac-address %q is not a MAC address (e.g. 92:d0:c6:0a:29:33)", shorten(s))
	}
	if mac[0]&1 != 0 {
		return nil, invalidf("--mac-address %s: a multicast address cannot be an interface's", mac)
	}
	return mac, nil
}

// specExtras is what these flags add to a spec, resolved by Create.
type specExtras struct {
	rlimits    []specs.POSIXRlimit
	sysctls    map[string]string
	devs       []specs.LinuxDevice
	devRules   []specs.LinuxDeviceCgroup
	shmSize    int64
	hostCgroup bool
	privileged bool
}

// specExtras checks the flags above and resolves what they need of the host.
func (o *RunOptions) specExtras() (e specExtras, err error) {
	if err = checkPlatform(o.Platform); err != nil {
		return e, err
	}
	if err = checkCgroupns(o.Cgroupns); err != nil {
		return e, err
	}
	e.hostCgroup = o.Cgroupns == "host"
	e.privileged = o.Privileged
	if e.rlimits, err = parseUlimits(o.Ulimits, hostHardLimit); err != nil {
		return e, err
	}
	if e.sysctls, err = parseSysctls(o.Sysctls, o.Network); err != nil {
		return e, err
	}
	if e.shmSize, err = parseShmSize(o.ShmSize); err != nil {
		return e, err
	}
	if _, err = parseMAC(o.MacAddress); err != nil {
		return e, err
	}
	if e.devs, e.devRules, err = devices(o.Devices); err != nil {
		return e, err
	}
	return e, nil
}

// apply puts the extras into spec (built by newSpec).
func (e specExtras) apply(spec *specs.Spec) {
	spec.Process.Rlimits = withRlimits(spec.Process.Rlimits, e.rlimits)
	spec.Linux.Sysctl = e.sysctls
	spec.Linux.Devices = e.devs
	if spec.Linux.Resources != nil {
		spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, e.devRules...)
	}
	if e.shmSize > 0 {
		withShmSize(spec.Mounts, e.shmSize)
	}
	if e.hostCgroup {
		spec.Linux.Namespaces = withoutNamespace(spec.Linux.Namespaces, specs.CgroupNamespace)
	}
	spec.Mounts = append(spec.Mounts, cgroupMountFor(e.privileged))
}

// cgroupMountFor is Docker's: read-write for a privileged container
// (systemd or a nested runtime inside makes its own groups), read-only otherwise.
func cgroupMountFor(privileged bool) specs.Mount {
	m := cgroupMount
	if privileged {
		m.Options = append([]string{"rw"}, m.Options[1:]...)
	}
	return m
}

// checkDNSOptions refuses malformed --dns-search and --dns-option values
// (one word each: resolv.conf splits on blanks).
func checkDNSOptions(search, options []string) error {
	for _, d := range search {
		if d != "." && (strings.ContainsAny(d, " \t\n#;") || !validHostname(strings.TrimSuffix(d, "."))) {
			return invalidf("--dns-search %q is not a domain name", shorten(d))
		}
	}
	for _, o := range options {
		if o == "" || strings.ContainsAny(o, " \t\n#;") {
			return invalidf("--dns-option %q: want one option such as ndots:2", shorten(o))
		}
	}
	return nil
}

// logConfig is the container's --log-driver and --log-opt.
func (c *Container) logConfig() logs.Config {
	cfg := logs.Config{Driver: c.LogDriver, MaxSize: c.LogMaxSize, MaxFile: c.LogMaxFile}
	if cfg.Driver == "" {
		cfg.Driver = logs.JSONFile
	}
	return cfg
}

// logPath is where the container's log is written (json-file), rotated
// files beside it as ctr.log.1, ctr.log.2...
func (s *Store) logPath(c *Container) string { return filepath.Join(s.Dir(c.ID), "ctr.log") }
