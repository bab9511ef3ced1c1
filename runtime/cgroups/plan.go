package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// plan says what to write where for a LinuxResources: each kind of limit
// goes to the v1 hierarchy that has its controller or, on a unified host
// or when no v1 hierarchy has it (a hybrid host's v2 tree may hold
// controllers v1 does not: hugetlb here), to the v2 group, with the
// controller enabled down to it.
type plan struct {
	v1      []setting // controller: the v1 hierarchy that has the file
	v2      []setting
	v2ctls  []string // v2 controllers the v2 settings need enabled
	devices []specs.LinuxDeviceCgroup
	// devicesV2: the device rules go to a v2 program rather than v1 files.
	devicesV2 bool
}

// makePlan works out the plan for r on layout l. v2Avail returns the
// controllers the v2 tree offers (its root's cgroup.controllers); it is
// only called when some limit may go there. A limit whose controller is
// nowhere is an error naming it.
func makePlan(l layout, r *specs.LinuxResources, v2Avail func() ([]string, error)) (plan, error) {
	var p plan
	if r == nil {
		return p, nil
	}
	inV1 := func(ctrl string) bool {
		return ctrl != "" && !l.limits2 && slices.ContainsFunc(l.v1, func(h hierarchy) bool { return h.has(ctrl) })
	}
	var avail []string
	read := false
	inV2 := func(ctrl string) (bool, error) {
		if l.v2 == "" {
			return false, nil
		}
		if ctrl == "" {
			return true, nil // the core's files
		}
		if !read {
			var err error
			if avail, err = v2Avail(); err != nil {
				return false, fmt.Errorf("read cgroup v2 controllers: %w", err)
			}
			read = true
		}
		return slices.Contains(avail, ctrl), nil
	}
	for _, k := range kinds {
		if !k.set(r) {
			continue
		}
		if inV1(k.v1) {
			s, err := k.v1Settings(r)
			if err != nil {
				return plan{}, err
			}
			p.v1 = append(p.v1, s...)
			continue
		}
		ok, err := inV2(k.v2)
		if err != nil {
			return plan{}, err
		}
		if !ok || k.v2 == "" {
			return plan{}, missing(l, k.field, k.v1, k.v2)
		}
		s, err := k.v2Settings(r)
		if err != nil {
			return plan{}, err
		}
		p.v2 = append(p.v2, s...)
		p.v2ctls = appendNew(p.v2ctls, k.v2)
	}
	if len(r.Unified) > 0 {
		if l.v2 == "" {
			return plan{}, errors.New("set unified: this host has no cgroup v2 tree")
		}
		s, err := unifiedSettings(r.Unified)
		if err != nil {
			return plan{}, err
		}
		for _, x := range s {
			if ok, err := inV2(x.controller); err != nil {
				return plan{}, err
			} else if !ok {
				return plan{}, fmt.Errorf("set %s: the cgroup v2 tree has no %s controller", x.what, x.controller)
			}
			if x.controller != "" {
				p.v2ctls = appendNew(p.v2ctls, x.controller)
			}
		}
		p.v2 = append(p.v2, s...)
	}
	if len(r.Devices) > 0 {
		p.devices = r.Devices
		switch {
		case inV1("devices"):
			p.v1 = append(p.v1, v1DeviceSettings(r.Devices)...)
		case l.v2 != "":
			// v2 has no devices controller: a program does it.
			if _, err := deviceProgram(r.Devices); err != nil {
				return plan{}, fmt.Errorf("set device rules: %w", err)
			}
			p.devicesV2 = true
		default:
			return plan{}, missing(l, "devices", "devices", "")
		}
	}
	return p, nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// missing is the error for a limit whose controller the host lacks.
func missing(l layout, field, v1, v2 string) error {
	var where []string
	if v1 != "" && !l.limits2 {
		where = append(where, "no "+v1+" cgroup hierarchy mounted")
	}
	if l.v2 != "" {
		if v2 == "" {
			where = append(where, "cgroup v2 has no "+v1+" controller")
		} else {
			where = append(where, "no "+v2+" controller in the cgroup v2 tree")
		}
	}
	return fmt.Errorf("set linux.resources.%s: %s", field, strings.Join(where, ", "))
}

// v2Avail reads the controllers the v2 tree at root offers.
func v2Avail(root string) func() ([]string, error) {
	return func() ([]string, error) {
		s, err := readFile(root + "/cgroup.controllers")
		return strings.Fields(s), err
	}
}

// applyV1 writes the plan's v1 settings to the groups of c.
func (c *Cgroup) applyV1(settings []setting) error {
	for i := 0; i < len(settings); i++ {
		s := &settings[i]
		dir, err := c.v1Dir(s)
		if err != nil {
			return err
		}
		err = s.apply(dir)
		// Written the other way round when the kernel refuses the first
		// of a pair for the value the second still has.
		if err != nil && errors.Is(err, unix.EINVAL) && i+1 < len(settings) && pairs[s.file] == settings[i+1].file {
			if err := settings[i+1].apply(dir); err != nil {
				return err
			}
			err = s.apply(dir)
			i++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pairs are the v1 files whose new values may each be refused until the
// other is written: memory.limit_in_bytes must stay at most
// memory.memsw.limit_in_bytes (raising both: memsw first); a shorter CFS
// period may exceed the parent's quota ratio with the old quota (as runc
// found).
var pairs = map[string]string{
	"memory.limit_in_bytes": "memory.memsw.limit_in_bytes",
	"cpu.cfs_period_us":     "cpu.cfs_quota_us",
}

// v1Dir returns the directory of c's group in the v1 hierarchy that has
// s's file, and drops the "cpuset." of s.file in a hierarchy mounted
// noprefix (the kernel allows that option for cpuset alone).
func (c *Cgroup) v1Dir(s *setting) (string, error) {
	for _, g := range c.v1 {
		if g.h.has(s.controller) {
			if g.h.noprefix {
				s.file = strings.TrimPrefix(s.file, "cpuset.")
			}
			return g.dir, nil
		}
	}
	return "", fmt.Errorf("set %s: cgroup %s has no %s hierarchy", s.what, c.path, s.controller)
}

// apply writes s to its file in the group directory dir, or its fallback
// when the file does not exist.
func (s setting) apply(dir string) error {
	err := writeFile(dir+"/"+s.file, s.value)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		if f := s.fallback; f != nil {
			err := f.apply(dir)
			if errors.Is(err, fs.ErrNotExist) && exists(dir) {
				return fmt.Errorf("set %s: the kernel offers neither %s nor %s in %s: %w", s.what, s.file, f.file, dir, fs.ErrNotExist)
			}
			return err
		}
		if s.optional {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("set %s: %w", s.what, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
