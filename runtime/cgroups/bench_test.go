package cgroups

import "testing"

// BenchmarkCreateDelete measures what a container's start and removal pay
// for cgroups: Create with memory, CPU and pids limits, then Delete; and
// the same with Docker's default device rules (v1 devices files, and the
// v2 program assembled, loaded and attached).
func BenchmarkCreateDelete(b *testing.B) {
	for _, devices := range []bool{false, true} {
		name := "limits"
		if devices {
			name = "limits+devices"
		}
		b.Run(name, func(b *testing.B) {
			res, err := Resources("64m", "0.5", 50)
			if err != nil {
				b.Fatal(err)
			}
			if devices {
				res.Devices = DeviceRules(false)
			}
			for b.Loop() {
				cg, err := Create(testID(b), res)
				if err != nil {
					b.Fatal(err)
				}
				if err := cg.Delete(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
