package runtime

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// MountPoint is one mount the user asked for (-v, --mount, --tmpfs), as the
// container's record keeps it: what inspect shows and what volume rm
// checks for use.
type MountPoint struct {
	Type        string `json:"type"`             // bind, volume or tmpfs
	Name        string `json:"name,omitempty"`   // a volume's name
	Source      string `json:"source,omitempty"` // the host path (a volume's: its _data)
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	Mode        string `json:"mode,omitempty"` // -v's third part, as Docker's inspect shows it
	Anonymous   bool   `json:"anonymous,omitempty"`
	Flag        string `json:"flag,omitempty"` // -v, --mount or --tmpfs: where inspect's HostConfig shows it
	Spec        string `json:"spec,omitempty"` // the flag's value as given, for HostConfig.Binds and Tmpfs

	options      []string // tmpfs: flags and data, as OCI options
	createSource bool     // -v HOST:CTR: a missing HOST is made, as Docker does
	noCopy       bool     // a volume is not seeded from the image
}

// mountRequests parses -v, --mount and --tmpfs. It is pure: host paths and
// volumes are looked at by Create.
func (o *RunOptions) mountRequests() ([]MountPoint, error) {
	var out []MountPoint
	for _, v := range o.Volumes {
		m, err := parseVolumeFlag(v)
		if err != nil {
			return nil, err
		}
		m.Flag, m.Spec = "-v", v
		out = append(out, m)
	}
	for _, v := range o.Mounts {
		m, err := parseMountFlag(v)
		if err != nil {
			return nil, err
		}
		m.Flag, m.Spec = "--mount", v
		out = append(out, m)
	}
	for _, v := range o.Tmpfs {
		m, err := parseTmpfsFlag(v)
		if err != nil {
			return nil, err
		}
		m.Flag, m.Spec = "--tmpfs", v
		out = append(out, m)
	}
	seen := map[string]bool{}
	for _, m := range out {
		if seen[m.Destination] {
			return nil, invalidf("duplicate mount point: %s", m.Destination)
		}
		seen[m.Destination] = true
	}
	return out, nil
}

var validVolumeName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
})

// ValidateVolumeName checks a volume name against Docker's rule.
func ValidateVolumeName(name string) error {
	if len(name) > MaxNameLen {
		return invalidf("volume name %q: at most %d characters are allowed", shorten(name), MaxNameLen)
	}
	if !validVolumeName().MatchString(name) {
		return invalidf("volume name %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed; a host directory must be an absolute path", shorten(name))
	}
	return nil
}

// checkDestination refuses what no mount may cover: the root itself and
// /proc, whose mounts the init makes and masks.
func checkDestination(flag, spec, dest string) (string, error) {
	if dest == "" {
		return "", invalidf("%s %q: no target path in the container", flag, spec)
	}
	if !path.IsAbs(dest) {
		return "", invalidf("%s %q: the target %q is not an absolute path", flag, spec, dest)
	}
	clean := path.Clean(dest)
	switch {
	case clean == "/":
		return "", invalidf("%s %q: the target cannot be /", flag, spec)
	case clean == "/proc" || strings.HasPrefix(clean, "/proc/"):
		return "", invalidf("%s %q: cannot mount over %s", flag, spec, clean)
	}
	return clean, nil
}

// parseVolumeFlag reads -v: CTR (an anonymous volume), SRC:CTR or
// SRC:CTR:OPTS, where SRC is an absolute host path (a bind mount) or a
// volume name, and OPTS is a comma-separated list of ro, rw, nocopy and the
// private propagations.
func parseVolumeFlag(spec string) (MountPoint, error) {
	parts := strings.Split(spec, ":")
	if len(parts) > 3 {
		return MountPoint{}, invalidf("-v %q: want [SOURCE:]TARGET[:OPTIONS]", spec)
	}
	for _, p := range parts {
		if p == "" {
			return MountPoint{}, invalidf("-v %q: an empty part; want [SOURCE:]TARGET[:OPTIONS]", spec)
		}
	}
	var m MountPoint
	var src string
	switch len(parts) {
	case 1:
		m.Type, m.Anonymous = "volume", true
		m.Destination = parts[0]
	default:
		src, m.Destination = parts[0], parts[1]
	}
	dest, err := checkDestination("-v", spec, m.Destination)
	if err != nil {
		return MountPoint{}, err
	}
	m.Destination = dest
	if src != "" {
		if path.IsAbs(src) {
			m.Type, m.Source, m.createSource = "bind", path.Clean(src), true
		} else {
			if err := ValidateVolumeName(src); err != nil {
				return MountPoint{}, err
			}
			m.Type, m.Name = "volume", src
		}
	}
	if len(parts) == 3 {
		m.Mode = parts[2]
		for _, opt := range strings.Split(parts[2], ",") {
			switch opt {
			case "ro":
				m.ReadOnly = true
			case "rw":
				m.ReadOnly = false
			case "nocopy":
				if m.Type != "volume" {
					return MountPoint{}, invalidf("-v %q: nocopy is for volumes only", spec)
				}
				m.noCopy = true
			case "private", "rprivate":
			default:
				return MountPoint{}, invalidf("-v %q: unknown option %q (ro, rw, nocopy, private, rprivate)", spec, opt)
			}
		}
	}
	return m, nil
}

// parseMountFlag reads --mount: comma-separated KEY=VALUE fields (CSV, as
// Docker reads them): type=bind|volume|tmpfs (default volume),
// source|src, target|destination|dst, readonly|ro[=true|false], and
// volume-nocopy, tmpfs-size and tmpfs-mode for their types.
func parseMountFlag(spec string) (MountPoint, error) {
	r := csv.NewReader(strings.NewReader(spec))
	fields, err := r.Read()
	if err != nil {
		return MountPoint{}, invalidf("--mount %q: %v", spec, err)
	}
	m := MountPoint{Type: "volume"}
	var src, size, mode string
	var hasSize, hasMode, noCopy bool
	for _, f := range fields {
		key, val, hasVal := strings.Cut(f, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		switch key {
		case "readonly", "ro", "volume-nocopy":
			b := true
			if hasVal {
				switch strings.ToLower(val) {
				case "1", "true":
				case "0", "false":
					b = false
				default:
					return MountPoint{}, invalidf("--mount %q: %s=%q: want true or false", spec, key, val)
				}
			}
			if key == "volume-nocopy" {
				noCopy = b
			} else {
				m.ReadOnly = b
			}
			continue
		}
		if !hasVal {
			return MountPoint{}, invalidf("--mount %q: %q: want KEY=VALUE", spec, f)
		}
		switch key {
		case "type":
			m.Type = val
		case "source", "src":
			src = val
		case "target", "destination", "dst":
			m.Destination = val
		case "bind-propagation":
			if val != "private" && val != "rprivate" {
				return MountPoint{}, invalidf("--mount %q: bind-propagation %q: only private and rprivate are supported", spec, val)
			}
		case "tmpfs-size":
			size, hasSize = val, true
		case "tmpfs-mode":
			mode, hasMode = val, true
		default:
			return MountPoint{}, invalidf("--mount %q: unknown key %q", spec, key)
		}
	}
	dest, err := checkDestination("--mount", spec, m.Destination)
	if err != nil {
		return MountPoint{}, err
	}
	m.Destination = dest
	if (hasSize || hasMode) && m.Type != "tmpfs" {
		return MountPoint{}, invalidf("--mount %q: tmpfs-size and tmpfs-mode are for type=tmpfs only", spec)
	}
	if noCopy && m.Type != "volume" {
		return MountPoint{}, invalidf("--mount %q: volume-nocopy is for type=volume only", spec)
	}
	switch m.Type {
	case "bind":
		if src == "" {
			return MountPoint{}, invalidf("--mount %q: type=bind needs a source", spec)
		}
		if !path.IsAbs(src) {
			return MountPoint{}, invalidf("--mount %q: the bind source %q is not an absolute path", spec, src)
		}
		m.Source = path.Clean(src)
	case "volume":
		if src == "" {
			m.Anonymous = true
		} else if err := ValidateVolumeName(src); err != nil {
			return MountPoint{}, err
		}
		m.Name, m.noCopy = src, noCopy
	case "tmpfs":
		if src != "" {
			return MountPoint{}, invalidf("--mount %q: type=tmpfs takes no source", spec)
		}
		var opts []string
		if hasSize {
			opts = append(opts, "size="+size)
		}
		if hasMode {
			opts = append(opts, "mode="+mode)
		}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		if m.options, err = tmpfsOptions("--mount", spec, opts); err != nil {
			return MountPoint{}, err
		}
	default:
		return MountPoint{}, invalidf("--mount %q: type %q: want bind, volume or tmpfs", spec, m.Type)
	}
	return m, nil
}

// parseTmpfsFlag reads --tmpfs CTR[:OPTIONS]: OPTIONS as mount(8) takes
// them for a tmpfs (size, mode, uid, gid, nr_inodes, and ro, rw, exec,
// noexec, suid, nosuid, dev, nodev).
func parseTmpfsFlag(spec string) (MountPoint, error) {
	dest, opts, _ := strings.Cut(spec, ":")
	clean, err := checkDestination("--tmpfs", spec, dest)
	if err != nil {
		return MountPoint{}, err
	}
	m := MountPoint{Type: "tmpfs", Destination: clean}
	var list []string
	if opts != "" {
		list = strings.Split(opts, ",")
	}
	if m.options, err = tmpfsOptions("--tmpfs", spec, list); err != nil {
		return MountPoint{}, err
	}
	for _, o := range m.options {
		if o == "ro" {
			m.ReadOnly = true
		}
	}
	return m, nil
}

// tmpfsOptions turns a tmpfs's options into OCI mount options: Docker's
// defaults (nosuid, nodev, noexec) unless overridden, then the data.
func tmpfsOptions(flag, spec string, opts []string) ([]string, error) {
	flags := map[string]bool{"nosuid": true, "nodev": true, "noexec": true}
	ro := false
	var data []string
	for _, o := range opts {
		key, val, hasVal := strings.Cut(o, "=")
		switch {
		case !hasVal && (o == "ro" || o == "rw"):
			ro = o == "ro"
		case !hasVal && (o == "exec" || o == "suid" || o == "dev"):
			flags["no"+o] = false
		case !hasVal && (o == "noexec" || o == "nosuid" || o == "nodev"):
			flags[o] = true
		case hasVal && key == "size":
			n, err := parseTmpfsSize(val)
			if err != nil {
				return nil, invalidf("%s %q: size %q: %v", flag, spec, val, err)
			}
			data = append(data, "size="+strconv.FormatInt(n, 10))
		case hasVal && key == "mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil || n > 0o7777 {
				return nil, invalidf("%s %q: mode %q: want an octal mode such as 1777", flag, spec, val)
			}
			data = append(data, fmt.Sprintf("mode=%o", n))
		case hasVal && (key == "uid" || key == "gid" || key == "nr_inodes"):
			if _, err := strconv.ParseUint(val, 10, 32); err != nil {
				return nil, invalidf("%s %q: %s %q: want a number", flag, spec, key, val)
			}
			data = append(data, o)
		default:
			return nil, invalidf("%s %q: unknown option %q (size, mode, uid, gid, nr_inodes, ro, rw, [no]exec, [no]suid, [no]dev)", flag, spec, o)
		}
	}
	var out []string
	for _, f := range []string{"nosuid", "nodev", "noexec"} {
		if flags[f] {
			out = append(out, f)
		}
	}
	if ro {
		out = append(out, "ro")
	}
	return append(out, data...), nil
}

var tmpfsSizeRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?i)(\d+(?:\.\d+)?)([kmgt])?(?:i?b)?$`)
})

// parseTmpfsSize reads a size as Docker does (bytes, or with k, m, g, t;
// "64m", "1.5g", "512MiB"); 0 is refused (the kernel would take it as no
// limit).
func parseTmpfsSize(s string) (int64, error) {
	m := tmpfsSizeRE().FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("want a size such as 64m or 1g")
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, err
	}
	shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[strings.ToLower(m[2])]
	f *= float64(uint64(1) << shift)
	if f >= math.MaxInt64 {
		return 0, fmt.Errorf("too large")
	}
	if int64(f) < 1 {
		return 0, fmt.Errorf("must be more than 0")
	}
	return int64(f), nil
}

// withUserMounts puts the user's mounts into a spec's: one on the same
// target replaces a default (-v /x:/etc/hosts), and parents come before
// their children (Docker sorts the same way), whatever the flags' order.
func withUserMounts(defaults []specs.Mount, user []MountPoint) []specs.Mount {
	taken := map[string]bool{}
	for _, m := range user {
		taken[m.Destination] = true
	}
	var out []specs.Mount
	for _, m := range defaults {
		if !taken[path.Clean(m.Destination)] {
			out = append(out, m)
		}
	}
	for _, m := range user {
		out = append(out, m.specMount())
	}
	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].Destination) < depth(out[j].Destination) })
	return out
}

func depth(p string) int { return strings.Count(path.Clean(p), "/") }

// specMount is the OCI mount for m: a bind (a volume is a bind of its
// directory) is recursive and private; a tmpfs carries its options.
func (m MountPoint) specMount() specs.Mount {
	if m.Type == "tmpfs" {
		return specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: m.options}
	}
	opts := []string{"rbind", "rprivate"}
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts}
}

// prepareMounts makes what the mounts need on the host: a -v bind's missing
// source directory (Docker makes it; --mount wants it to exist).
func (s *Store) prepareMounts(mounts []MountPoint) error {
	for i := range mounts {
		m := &mounts[i]
		if m.Type == "bind" {
			_, err := os.Stat(m.Source)
			if errors.Is(err, fs.ErrNotExist) && m.createSource {
				err = os.MkdirAll(m.Source, 0o755)
			}
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return invalidf("bind source path does not exist: %s", m.Source)
				}
				return fmt.Errorf("bind source %s: %w", m.Source, err)
			}
		}
	}
	return nil
}
