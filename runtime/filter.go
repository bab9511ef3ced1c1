package runtime

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Filter is ps's --filter: values of one key are OR'd, keys AND'd, as in
// Docker.
type Filter map[string][]string

// filterKeys are the keys ps understands.
var filterKeys = []string{"ancestor", "exited", "id", "label", "name", "network", "status"}

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
		case "exited":
			if _, err := strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("invalid filter 'exited=%s'", v)
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

// WantsAll reports whether the filter names containers that are not
// running, so that ps lists them without -a (as Docker does).
func (f Filter) WantsAll() bool {
	return len(f["exited"]) > 0 || slices.ContainsFunc(f["status"], func(s string) bool { return s != "running" })
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
