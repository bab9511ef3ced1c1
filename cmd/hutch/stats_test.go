package main

import (
	"testing"
	"time"

	"github.com/hutchrt/hutch/runtime"
)

func TestStatsFormat(t *testing.T) {
	for n, want := range map[float64]string{0: "0B", 1023: "1023B", 1536: "1.5KiB", 64 << 20: "64MiB", 7.6 * (1 << 30): "7.6GiB"} {
		if got := binarySize(n); got != want {
			t.Errorf("binarySize(%v) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[float64]string{0: "0B", 648: "648B", 1234: "1.23kB", 5e6: "5MB"} {
		if got := decimalSize(n); got != want {
			t.Errorf("decimalSize(%v) = %q, want %q", n, got, want)
		}
	}
	t0 := time.Unix(100, 0)
	prev := runtime.Sample{At: t0, CPU: 1e9}
	if got := cpuPercent(prev, runtime.Sample{At: t0.Add(time.Second), CPU: 1.5e9}); got != 50 {
		t.Errorf("half a CPU over a second: %v%%", got)
	}
	if got := cpuPercent(prev, runtime.Sample{At: t0.Add(time.Second), CPU: 3e9}); got != 200 {
		t.Errorf("two CPUs: %v%%", got)
	}
	if got := cpuPercent(runtime.Sample{At: t0}, runtime.Sample{At: t0.Add(time.Second), CPU: 3e9}); got != 0 {
		t.Errorf("no first reading (stopped): %v%%", got)
	}
}
