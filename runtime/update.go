package runtime

import (
	"fmt"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/runtime/atomicfile"
	"github.com/hutchrt/hutch/runtime/cgroups"
)

// UpdateOptions are update's flags; "" and 0 leave a limit (or the
// restart policy) as it is.
type UpdateOptions struct {
	Memory, CPUs string
	PidsLimit    int64
	Restart      string
}

// Resources checks the flags and returns the limits they set: nil when
// only --restart is given.
func (o UpdateOptions) Resources() (*specs.LinuxResources, error) {
	res, err := cgroups.Resources(o.Memory, o.CPUs, o.PidsLimit)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	if res.Memory == nil && res.CPU == nil && res.Pids == nil {
		if o.Restart != "" {
			return nil, nil
		}
		return nil, invalidf("update: give --memory, --cpus, --pids-limit (a positive value) or --restart")
	}
	return res, nil
}

// Update changes a container's limits: in its live cgroup if it runs, and
// in its config.json so that its next start keeps them.
func (s *Store) Update(ref string, res *specs.LinuxResources) error {
	c, err := s.Get(ref)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	dir := s.Dir(c.ID)
	spec, err := loadSpec(dir)
	if err != nil {
		return err
	}
	if c.Running() {
		err := s.ociRuntime().Update(c.ID, res)
		if cg, older := olderRun(err, c.ID); older {
			err = cg.Update(res)
		}
		if err != nil {
			return fmt.Errorf("update %s: %w", c.Name, err)
		}
	}
	cur := spec.Linux.Resources
	if cur == nil {
		cur = &specs.LinuxResources{}
		spec.Linux.Resources = cur
	}
	if res.Memory != nil {
		cur.Memory = res.Memory
	}
	if res.CPU != nil {
		if cur.CPU == nil {
			cur.CPU = &specs.LinuxCPU{}
		}
		cur.CPU.Quota, cur.CPU.Period = res.CPU.Quota, res.CPU.Period
	}
	if res.Pids != nil {
		cur.Pids = res.Pids
	}
	b, err := encodeSpec(spec)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "config.json"), b, 0o644)
}
