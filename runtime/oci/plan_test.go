package oci

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPlanOpArity(t *testing.T) {
	for _, bad := range [][]string{{"setns", "3"}, {"fork"}, {"nosuchop"}} {
		p := &Plan{}
		p.op(bad[0], bad[1:]...)
		if p.err == nil || !strings.Contains(p.err.Error(), bad[0]) {
			t.Errorf("op %q: err %v, want it refused", bad, p.err)
		}
	}
}

// TestPlanOpsMatchInit: the Go table of ops and init.c's ops[] name the
// same ops, so a plan the builder accepts is one the init can run.
func TestPlanOpsMatchInit(t *testing.T) {
	src, err := os.ReadFile("../containerinit/init.c")
	if err != nil {
		t.Fatal(err)
	}
	var inC []string
	for _, m := range regexp.MustCompile(`\{"([a-z]+)", op_[a-z]+\}`).FindAllSubmatch(src, -1) {
		inC = append(inC, string(m[1]))
	}
	inGo := slices.Collect(maps.Keys(opArity))
	slices.Sort(inC)
	slices.Sort(inGo)
	if !slices.Equal(inC, inGo) {
		t.Errorf("init.c's ops %v, Go's opArity %v", inC, inGo)
	}
}

func TestMountOptions(t *testing.T) {
	flags, data := mountOptions([]string{"nosuid", "rw", "mode=755", "size=65536k", "ro", "rbind"})
	want := unix.MS_NOSUID | unix.MS_RDONLY | unix.MS_BIND | unix.MS_REC
	if flags != want || data != "mode=755,size=65536k" {
		t.Errorf("mountOptions = %#x %q, want %#x %q", flags, data, want, "mode=755,size=65536k")
	}
}
