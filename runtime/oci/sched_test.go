package oci

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestPlanScheduler(t *testing.T) {
	for _, tc := range []struct {
		s    specs.Scheduler
		want []string // the op's arguments; nil: refused
	}{
		{specs.Scheduler{Policy: specs.SchedOther, Nice: -20}, []string{"0", "0", "-20", "0", "0", "0", "0"}},
		{specs.Scheduler{Policy: specs.SchedBatch, Nice: 19}, []string{"3", "0", "19", "0", "0", "0", "0"}},
		{specs.Scheduler{Policy: specs.SchedFIFO, Priority: 99, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}},
			[]string{"1", "1", "0", "99", "0", "0", "0"}},
		{specs.Scheduler{Policy: specs.SchedRR, Priority: 1}, []string{"2", "0", "0", "1", "0", "0", "0"}},
		{specs.Scheduler{Policy: specs.SchedIdle}, []string{"5", "0", "0", "0", "0", "0", "0"}},
		{specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1024, Deadline: 2000, Period: 0,
			Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagReclaim, specs.SchedFlagDLOverrun}},
			[]string{"6", "6", "0", "0", "1024", "2000", "0"}},
		{specs.Scheduler{Policy: "SCHED_NO_SUCH"}, nil},
		{specs.Scheduler{Policy: specs.SchedISO}, nil}, // no Linux has it
		{specs.Scheduler{Policy: specs.SchedOther, Nice: 20}, nil},
		{specs.Scheduler{Policy: specs.SchedOther, Nice: -21}, nil},
		{specs.Scheduler{Policy: specs.SchedOther, Priority: 1}, nil},
		{specs.Scheduler{Policy: specs.SchedFIFO}, nil}, // 0 is not a realtime priority
		{specs.Scheduler{Policy: specs.SchedRR, Priority: 100}, nil},
		{specs.Scheduler{Policy: specs.SchedBatch, Runtime: 1024}, nil},
		{specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1000, Deadline: 2000}, nil},
		{specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 3000, Deadline: 2000}, nil},
		{specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 2000, Deadline: 3000, Period: 2500}, nil},
		{specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagUtilClampMin}}, nil},
	} {
		p := &Plan{}
		err := planScheduler(p, &tc.s)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%+v: accepted, want it refused", tc.s)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc.s, err)
			continue
		}
		if ops := opsOf(t, p); len(ops) != 1 || !slices.Equal(ops[0], append([]string{"sched"}, tc.want...)) {
			t.Errorf("%+v: ops %q, want sched %q", tc.s, ops, tc.want)
		}
	}
}

func TestPlanIOPriority(t *testing.T) {
	for _, tc := range []struct {
		io   specs.LinuxIOPriority
		want string // ioprio_set's value; "": refused
	}{
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 0}, "8192"},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 7}, "16391"},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}, "24576"},
		{specs.LinuxIOPriority{Class: "IOPRIO_CLASS_NONE"}, ""},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}, ""},
		{specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: -1}, ""},
	} {
		p := &Plan{}
		err := planIOPriority(p, &tc.io)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%+v: accepted, want it refused", tc.io)
			}
			continue
		}
		if ops := opsOf(t, p); err != nil || len(ops) != 1 || !slices.Equal(ops[0], []string{"ioprio", tc.want}) {
			t.Errorf("%+v: ops %q, err %v, want ioprio %s", tc.io, ops, err, tc.want)
		}
	}
}

// The scheduler and I/O priority are set before the identity drops the
// rights to them, in a container's process and an exec's alike, and in a
// container's before it waits for start.
func TestSchedulerBeforeIdentity(t *testing.T) {
	spec := testSpec()
	spec.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch}
	spec.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 3}
	init, err := BuildInit(spec, InitOptions{ExecFifo: 4}, testHost)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := BuildExec(spec, spec.Process, ExecJoin{}, 40)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*Plan{"init": init, "exec": exec} {
		ops := opsOf(t, p)
		s, io, id := indexOp(ops, "sched"), indexOp(ops, "ioprio"), indexOp(ops, "identity")
		if s < 0 || io < 0 || s > id || io > id {
			t.Errorf("%s: ops %q, want sched and ioprio before identity", name, ops)
		}
		// A kernel's refusal fails create, not start (after the fifo).
		if f := indexOp(ops, "fifo"); name == "init" && (f < s || f < io) {
			t.Errorf("%s: ops %q, want sched and ioprio before the fifo", name, ops)
		}
	}
}
