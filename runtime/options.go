package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
)

// RunOptions is what `hutch run` asks for, before any side effect.
type RunOptions struct {
	Name     string
	Image    string
	Args     []string
	Env      []string // "K=V", or "K" to copy K from the caller's environment
	EnvFiles []string
	Workdir  string
	User     string
	Hostname string
	Network  string // a network's name (default: bridge), none, host or container:NAME
	Publish  []string
	// --expose: more ports to record (and to publish with -P) besides the image's ExposedPorts
	Expose     []string
	PublishAll bool     // -P
	Aliases    []string // --network-alias
	IP         string
	AddHosts   []string
	DNS        []string

	CapAdd, CapDrop []string
	Privileged      bool
	SecurityOpts    []string
	ReadOnly        bool
	Init            bool

	Volumes []string // -v
	Mounts  []string // --mount
	Tmpfs   []string // --tmpfs

	Memory    string
	CPUs      string
	PidsLimit int64

	Tty, Interactive, Detach, AutoRemove bool

	Labels     []string // --label: KEY=VALUE or KEY
	LabelFiles []string // --label-file: a KEY=VALUE per line

	StopSignal  string // --stop-signal: "" keeps the image's
	StopTimeout *int   // --stop-timeout: seconds stop waits by default (nil: 10)
	Restart     string // --restart: no (""), always, unless-stopped or on-failure[:N]
	Health      HealthOptions

	Pull       string    // --pull: missing (""), always or never
	PullOutput io.Writer // where an implicit pull reports (run: stderr); nil: nowhere

	// Entrypoint is --entrypoint: nil keeps the image's, "" clears it.
	Entrypoint *string

	// See runflags.go.
	Ulimits, Sysctls, Devices []string
	ShmSize, Cgroupns         string
	Platform, MacAddress      string
	DNSSearch, DNSOptions     []string
	LogDriver                 string   // --log-driver: json-file (default) or none
	LogOpts                   []string // --log-opt KEY=VALUE: max-size, max-file
}

var validName = sync.OnceValue(func() *regexp.Regexp { // compiled on first use, not at every start
	return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
})

// ErrInvalid marks errors in what the user asked for (exit 125, nothing done).
var ErrInvalid = errors.New("invalid argument")

// invalidError is a user mistake: it reads as its message alone and
// matches ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// ValidateName checks a container name against Docker's rule.
func ValidateName(name string) error {
	if len(name) > MaxNameLen {
		return invalidf("container name %q: at most %d characters are allowed", shorten(name), MaxNameLen)
	}
	if !validName().MatchString(name) {
		return invalidf("container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}

// validate checks everything that needs no image and no state.
func (o *RunOptions) validate() error {
	if o.Name != "" {
		if err := ValidateName(o.Name); err != nil {
			return err
		}
	}
	if o.Image == "" {
		return invalidf("no image given")
	}
	if o.Workdir != "" && !path.IsAbs(o.Workdir) {
		return invalidf("working directory %q is not an absolute path", o.Workdir)
	}
	if o.Hostname != "" && !validHostname(o.Hostname) {
		return invalidf("hostname %q is not a valid host name (at most 64 characters)", shorten(o.Hostname))
	}
	if _, err := o.securityOpts(); err != nil {
		return err
	}
	if _, err := o.mountRequests(); err != nil {
		return err
	}
	return nil
}

func validHostname(h string) bool {
	if len(h) > 64 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// securityOpts is what --security-opt asks for.
type securityOpts struct {
	noNewPrivileges bool
	seccomp         string   // "": Docker's default profile; "unconfined"; else a profile in Docker's JSON format
	shown           []string // for inspect: a profile file is shown by its content, as Docker's CLI sends it
}

// securityOpts reads --security-opt: no-new-privileges[:true|false] and
// seccomp=unconfined|builtin|FILE (Docker's profile format).
func (o *RunOptions) securityOpts() (securityOpts, error) {
	var so securityOpts
	for _, opt := range o.SecurityOpts {
		key, val, hasVal := strings.Cut(opt, ":")
		if !hasVal {
			key, val, hasVal = strings.Cut(opt, "=")
		}
		shown := opt
		switch {
		case key == "no-new-privileges" && (!hasVal || val == "true"):
			so.noNewPrivileges = true
		case key == "no-new-privileges" && val == "false":
			so.noNewPrivileges = false
		case key == "no-new-privileges":
			return so, invalidf("--security-opt %q: value must be true or false", opt)
		case key == "seccomp" && (val == "unconfined" || val == "builtin"):
			so.seccomp = strings.TrimPrefix(val, "builtin")
		case key == "seccomp" && val != "":
			profile, err := readSeccompProfile(val)
			if err != nil {
				return so, err
			}
			so.seccomp, shown = profile, "seccomp="+profile
		default:
			return so, invalidf("--security-opt %q: only no-new-privileges and seccomp are supported", opt)
		}
		so.shown = append(so.shown, shown)
	}
	return so, nil
}

// readSeccompProfile is a profile file's JSON, compacted as Docker's CLI does.
func readSeccompProfile(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", invalidf("--security-opt seccomp: %v", err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return "", invalidf("--security-opt seccomp=%s: not JSON: %v", name, err)
	}
	return out.String(), nil
}

// environment merges --env-file and -e (later wins, like Docker), resolving
// bare names from lookup (the caller's environment); a bare name that is not
// set there is left out.
func (o *RunOptions) environment(lookup func(string) (string, bool)) ([]string, error) {
	var entries []string
	for _, f := range o.EnvFiles {
		lines, err := readEnvFile(f)
		if err != nil {
			return nil, err
		}
		entries = append(entries, lines...)
	}
	entries = append(entries, o.Env...)
	var out []string
	index := map[string]int{}
	for _, e := range entries {
		k, v, hasVal := strings.Cut(e, "=")
		if k == "" {
			return nil, invalidf("environment variable %q: bad name", e)
		}
		if !hasVal {
			var ok bool
			if v, ok = lookup(k); !ok {
				continue
			}
		}
		if i, ok := index[k]; ok {
			out[i] = k + "=" + v
			continue
		}
		index[k] = len(out)
		out = append(out, k+"="+v)
	}
	return out, nil
}

func readEnvFile(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, invalidf("--env-file: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "=") {
			return nil, invalidf("--env-file %s line %d: no variable name", name, n)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, invalidf("--env-file %s: %v", name, err)
	}
	return out, nil
}
