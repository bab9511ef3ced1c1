package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update applies the limits in res to the live group, as CreatePath sets
// them; what res leaves unset keeps its value. Device rules can change on
// v1 only: v2's program stays as attached (a second one would only add
// denials), so device rules that would go to v2 are refused. A limit the
// host has no controller for is refused before anything is written; one
// the kernel refuses stops the update there, the limits before it set (as
// in runc).
func (c *Cgroup) Update(res *specs.LinuxResources) error {
	if err := c.update(res); err != nil {
		return fmt.Errorf("update cgroup %s: %w", c.path, err)
	}
	return nil
}

func (c *Cgroup) update(res *specs.LinuxResources) error {
	p, err := makePlan(c.l, res, v2Avail(c.l.v2))
	if err != nil {
		return err
	}
	if p.devicesV2 {
		return errors.New("set device rules: cgroup v2 device rules cannot change on a live group")
	}
	if len(p.v2) > 0 && c.v2 == "" {
		return fmt.Errorf("set %s: the group has no cgroup v2 directory", p.v2[0].what)
	}
	if m := res.Memory; m != nil && m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate {
		if err := c.checkMemory(p, val(m.Limit)); err != nil {
			return err
		}
	}
	if err := c.applyV1(p.v1); err != nil {
		return err
	}
	if len(p.v2) == 0 {
		return nil
	}
	if err := c.enable(p); err != nil {
		return err
	}
	for _, s := range p.v2 {
		if err := s.apply(c.v2); err != nil {
			return err
		}
	}
	return nil
}

// checkMemory refuses a memory limit below what the group uses now
// (memory.checkBeforeUpdate); the kernel would otherwise reclaim or OOM-kill
// to get there.
func (c *Cgroup) checkMemory(p plan, limit int64) error {
	if limit <= 0 {
		return nil
	}
	file := ""
	for _, s := range p.v1 {
		if s.controller == "memory" {
			file = c.dirOf("memory") + "/memory.usage_in_bytes"
		}
	}
	for _, s := range p.v2 {
		if s.controller == "memory" {
			file = c.v2 + "/memory.current"
		}
	}
	if file == "" {
		return nil
	}
	v, err := readFile(file)
	if err != nil {
		return fmt.Errorf("set memory limit: %w", err)
	}
	usage, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return fmt.Errorf("set memory limit: %s: %w", file, err)
	}
	if limit < usage {
		return fmt.Errorf("set memory limit: %d is below the current usage %d (memory.checkBeforeUpdate)", limit, usage)
	}
	return nil
}

// dirOf returns the group's directory in the v1 hierarchy that has
// controller, "" if none.
func (c *Cgroup) dirOf(controller string) string {
	for _, g := range c.v1 {
		if g.h.has(controller) {
			return g.dir
		}
	}
	return ""
}
