package cgroups

import "testing"

// BenchmarkCreateDelete measures what a container's start and removal pay
// for cgroups: Create with memory, CPU and pids limits, then Delete.
func BenchmarkCreateDelete(b *testing.B) {
	res, err := Resources("64m", "0.5", 50)
	if err != nil {
		b.Fatal(err)
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
}
