package oci

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// schedPolicyOf is sched_setattr(2)'s policy for the spec's names.
// SCHED_ISO is named by the spec but no Linux kernel has it.
var schedPolicyOf = map[specs.LinuxSchedulerPolicy]int{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2,
	specs.SchedBatch: 3, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

// schedFlagOf is sched_attr's flags for the spec's names. The
// utilization clamps are left out: the spec carries no clamp values.
var schedFlagOf = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
}

// planScheduler sets process.scheduler, checked as runc checks it (and as
// the kernel would refuse it, but before anything is made).
func planScheduler(p *Plan, s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	policy, ok := schedPolicyOf[s.Policy]
	if !ok {
		return fmt.Errorf("process.scheduler.policy %q: not one of %s", s.Policy, joinKeys(schedPolicyOf))
	}
	var flags uint64
	for _, f := range s.Flags {
		bit, ok := schedFlagOf[f]
		if !ok {
			return fmt.Errorf("process.scheduler.flags: %q is not one of %s", f, joinKeys(schedFlagOf))
		}
		flags |= bit
	}
	rt := s.Policy == specs.SchedFIFO || s.Policy == specs.SchedRR
	dl := s.Policy == specs.SchedDeadline
	switch {
	case s.Nice < -20 || s.Nice > 19:
		return fmt.Errorf("process.scheduler.nice %d: not between -20 and 19", s.Nice)
	case rt && (s.Priority < 1 || s.Priority > 99):
		return fmt.Errorf("process.scheduler.priority %d: %s takes 1 to 99", s.Priority, s.Policy)
	case !rt && s.Priority != 0:
		return fmt.Errorf("process.scheduler.priority %d: only SCHED_FIFO and SCHED_RR take a priority", s.Priority)
	case !dl && (s.Runtime != 0 || s.Deadline != 0 || s.Period != 0):
		return fmt.Errorf("process.scheduler: runtime, deadline and period are SCHED_DEADLINE's only")
	case dl && (s.Runtime < 1024 || s.Deadline < s.Runtime || s.Period != 0 && s.Period < s.Deadline):
		return fmt.Errorf("process.scheduler: SCHED_DEADLINE needs 1024 <= runtime <= deadline <= period (ns), got %d, %d, %d",
			s.Runtime, s.Deadline, s.Period)
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	p.op("sched", itoa(policy), u(flags), itoa(int(s.Nice)), itoa(int(s.Priority)), u(s.Runtime), u(s.Deadline), u(s.Period))
	return nil
}

// ioprioClassOf is ioprio_set(2)'s class for the spec's names.
var ioprioClassOf = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

// planIOPriority sets process.ioPriority: the class and its level (0,
// the highest, to 7) in ioprio_set's one value.
func planIOPriority(p *Plan, io *specs.LinuxIOPriority) error {
	if io == nil {
		return nil
	}
	class, ok := ioprioClassOf[io.Class]
	if !ok {
		return fmt.Errorf("process.ioPriority.class %q: not one of %s", io.Class, joinKeys(ioprioClassOf))
	}
	if io.Priority < 0 || io.Priority > 7 {
		return fmt.Errorf("process.ioPriority.priority %d: not between 0 and 7", io.Priority)
	}
	p.op("ioprio", itoa(class<<13|io.Priority))
	return nil
}

// joinKeys lists a table's names for an error, sorted.
func joinKeys[K ~string, V any](m map[K]V) string { return strings.Join(keyNames(m), ", ") }
