package procstart

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	self := Of(os.Getpid())
	if self == 0 {
		t.Fatal("Of(self) = 0, want this process's start time")
	}
	if again := Of(os.Getpid()); again != self {
		t.Errorf("Of(self) = %d then %d, want the same", self, again)
	}
	if Of(0) != 0 || Of(-1) != 0 {
		t.Error("Of of a non-pid is not 0")
	}
}

// An exited child not yet reaped is a zombie: it counts as gone, though
// its /proc entry is still there.
func TestOfZombie(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	pid := cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for Of(pid) != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := Of(pid); got != 0 {
		t.Fatalf("Of(exited child) = %d, want 0", got)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil {
		t.Fatalf("the child was reaped already (%v): this test wants a zombie", err)
	}
}
