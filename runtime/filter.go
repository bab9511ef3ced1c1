package runtime

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hutchrt/hutch/network/portspec"
)

// Filter is ps's --filter: values of one key are OR'd, keys AND'd, as in
// Docker.
type Filter map[string][]string

// filterKeys are the keys ps understands.
var filterKeys = []string{"ancestor", "before", "exited", "expose", "health", "id", "label", "name", "network", "publish", "since", "status", "volume"}

// Docker's health states, the values health= accepts ("none": no check).
var filterHealth = []string{"starting", "healthy", "unhealthy", "none"}

// Docker's container states, the values status= accepts.
var filterStatuses = []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}

// ParseFilter reads --filter KEY=VALUE flags, refusing what Docker refuses.
func ParseFilter(args []string) (Filter, error) {
	f := Filter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if !slices.Contains(filterKeys, k) {
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		switch k {
		case "status":
			if !slices.Contains(filterStatuses, v) {
				return nil, fmt.Errorf("invalid filter 'status=%s'", v)
			}
		case "health":
			if !slices.Contains(filterHealth, v) {
				return nil, fmt.Errorf("invalid filter 'health=%s'", v)
			}
		case "exited":
			if _, err := strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("invalid filter 'exited=%s'", v)
			}
		case "publish", "expose":
			if _, _, err := portFilter(v); err != nil {
				return nil, fmt.Errorf("invalid filter '%s=%s'", k, v)
			}
		case "name":
			if _, err := regexp.Compile(v); err != nil {
				return nil, fmt.Errorf("invalid filter 'name=%s': %v", v, err)
			}
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// Resolve turns before= and since= (containers by name or id) into the
// times they were created; an unknown container is the filter's error.
func (f Filter) Resolve(get func(ref string) (*Container, error)) error {
	for _, k := range []string{"before", "since"} {
		for i, ref := range f[k] {
			c, err := get(ref)
			if err != nil {
				return err
			}
			f[k][i] = c.Created.Format(time.RFC3339Nano)
		}
	}
	return nil
}

// WantsAll reports whether the filter names containers that are not
// running, so that ps lists them without -a: status= does in Docker's
// daemon, and before=/since= include non-running ones as its docs say;
// exited= does not ("only useful with --all").
func (f Filter) WantsAll() bool {
	return len(f["before"]) > 0 || len(f["since"]) > 0 || slices.ContainsFunc(f["status"], func(s string) bool { return s != "running" })
}

// Match reports whether c passes every key of the filter.
func (f Filter) Match(c *Container) bool {
	for k, vals := range f {
		if !slices.ContainsFunc(vals, func(v string) bool { return matchOne(c, k, v) }) {
			return false
		}
	}
	return true
}

func matchOne(c *Container, key, v string) bool {
	switch key {
	case "id":
		return v != "" && strings.HasPrefix(c.ID, v)
	case "name": // a regular expression, as Docker's, over the name with or without its "/"
		re, err := regexp.Compile(v)
		return err == nil && (re.MatchString(c.Name) || re.MatchString("/"+c.Name))
	case "status":
		return string(c.Status) == v
	case "health":
		switch {
		case c.Healthcheck == nil:
			return v == "none"
		case c.Health == nil: // no probe has run yet
			return v == "starting"
		}
		return c.Health.Status == v
	case "exited":
		n, _ := strconv.Atoi(v)
		return c.Status == StatusExited && c.ExitCode == n
	case "label":
		k, want, hasValue := strings.Cut(v, "=")
		got, ok := c.Labels[k]
		return ok && (!hasValue || got == want)
	case "network":
		if c.Network == v {
			return true
		}
		for _, ep := range c.Endpoints {
			if ep.Network == v || ep.NetworkID == v || (len(v) >= 12 && strings.HasPrefix(ep.NetworkID, v)) {
				return true
			}
		}
	case "ancestor":
		return sameImage(c, v)
	case "before", "since": // v is the other container's creation time (Resolve)
		t, err := time.Parse(time.RFC3339Nano, v)
		return err == nil && ((key == "before" && c.Created.Before(t)) || (key == "since" && c.Created.After(t)))
	case "volume": // a volume's name or a mount's destination
		return slices.ContainsFunc(c.Mounts, func(m MountPoint) bool { return (m.Name != "" && m.Name == v) || m.Destination == v })
	case "publish": // a host port published now
		port, proto, _ := portFilter(v)
		return slices.ContainsFunc(c.Ports, func(m portspec.Mapping) bool { return m.HostPort == port && (proto == "" || m.Proto == proto) })
	case "expose": // a container port exposed or published
		port, proto, _ := portFilter(v)
		keys := slices.Clone(c.Exposed)
		for _, m := range c.Publish {
			keys = append(keys, m.ContainerKey())
		}
		return slices.ContainsFunc(keys, func(k string) bool {
			p, pr, _ := strings.Cut(k, "/")
			return p == strconv.Itoa(int(port)) && (proto == "" || pr == proto)
		})
	}
	return false
}

// sameImage reports whether ref names c's image: its name with or without
// ":latest" (or a registry's docker.io/library/ prefix), or its id.
func sameImage(c *Container, ref string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(s, "docker.io/")
		s = strings.TrimPrefix(s, "library/")
		if i := strings.LastIndex(s, ":"); i < 0 || strings.Contains(s[i:], "/") {
			s += ":latest"
		}
		return s
	}
	if norm(c.Image) == norm(ref) {
		return true
	}
	id := strings.TrimPrefix(ref, "sha256:")
	return c.ImageID != "" && len(id) >= 4 && strings.HasPrefix(strings.TrimPrefix(c.ImageID, "sha256:"), id)
}

// portFilter reads publish= and expose=: PORT or PORT/PROTO.
func portFilter(v string) (uint16, string, error) {
	p, proto, _ := strings.Cut(v, "/")
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 || (proto != "" && proto != "tcp" && proto != "udp") {
		return 0, "", fmt.Errorf("invalid port %q", v)
	}
	return uint16(n), proto, nil
}
