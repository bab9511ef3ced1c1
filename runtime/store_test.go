package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hutchrt/hutch/runtime/cgroups"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The records name an image: give them one (an empty root filesystem).
	if err := os.MkdirAll(s.Images().RootfsPath("busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	meta := `{"Name": "busybox", "Id": "0123456789ab"}`
	if err := os.WriteFile(filepath.Join(filepath.Dir(s.Images().RootfsPath("busybox")), "image.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func testContainer(id, name string) *Container {
	return &Container{ID: id, Name: name, Image: "busybox", Command: []string{"true"}, Created: now(), Status: StatusCreated}
}

func TestStoreCreateGet(t *testing.T) {
	s := newTestStore(t)
	a := testContainer("aaaa1111"+fmt.Sprint(time.Now().UnixNano()), "web")
	b := testContainer("aaaa2222", "db")
	for _, c := range []*Container{a, b} {
		if err := s.create(c, map[string][]byte{"hostname": []byte("h\n")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(s.Dir(a.ID), "hostname")); err != nil || string(b) != "h\n" {
		t.Errorf("hostname file = %q, %v", b, err)
	}
	for ref, want := range map[string]string{"web": a.ID, a.ID: a.ID, "aaaa2": b.ID, "db": b.ID} {
		c, err := s.Get(ref)
		if err != nil || c.ID != want {
			t.Errorf("Get(%q) = %v, %v, want %s", ref, c, err, want)
		}
	}
	if _, err := s.Get("aaaa"); err == nil {
		t.Error("ambiguous prefix accepted")
	}
	gone := testContainer("bbbb", "noimage")
	gone.Image = "removed"
	if err := s.create(gone, nil, nil); err == nil {
		t.Error("create with a missing image succeeded")
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nope) = %v, want ErrNotFound", err)
	}
	if err := s.create(testContainer("cccc", "web"), nil, nil); !errors.Is(err, ErrNameInUse) {
		t.Errorf("duplicate name: %v, want ErrNameInUse", err)
	}
	if _, err := os.Stat(s.Dir("cccc")); !os.IsNotExist(err) {
		t.Errorf("refused create left %s behind", s.Dir("cccc"))
	}
	all, err := s.List()
	if err != nil || len(all) != 2 || all[0].ID != a.ID {
		t.Errorf("List() = %v, %v, want a then b", all, err)
	}
	if err := s.remove(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("web"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after remove = %v", err)
	}
}

// Names stay unique when many creators race (the lock is an flock, so
// goroutines are as good a test as processes).
func TestStoreCreateRace(t *testing.T) {
	s := newTestStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.create(testContainer(fmt.Sprintf("id%02d", i), "same"), nil, nil)
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, ErrNameInUse) {
			t.Errorf("create: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d creates of one name succeeded, want 1", ok)
	}
}

// A record whose monitor is gone is marked exited (or removed with --rm).
func TestStoreReconcileDeadMonitor(t *testing.T) {
	s := newTestStore(t)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid // reaped: gone
	c := testContainer("dddd", "orphan")
	c.Status, c.MonitorPid, c.MonitorStart, c.BootID = StatusRunning, dead, 12345, bootID()
	c.Pid, c.PidStart = dead, 12345
	if err := s.create(c, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("orphan")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusExited || got.MonitorPid != 0 || got.Pid != 0 || got.ExitCode != 137 || got.Error == "" {
		t.Errorf("reconciled record = %+v, want exited 137 with no pids", got)
	}

	rm := testContainer("eeee", "gone")
	rm.Status, rm.AutoRemove, rm.MonitorPid, rm.MonitorStart, rm.BootID = StatusRunning, true, dead, 1, bootID()
	if err := s.create(rm, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("--rm container with dead monitor: Get = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(s.Dir("eeee")); !os.IsNotExist(err) {
		t.Error("--rm container's directory left behind")
	}

	// A live monitor (this process) is left alone; a record from another boot is not.
	start, _ := selfStart()
	live := testContainer("ffff", "live")
	live.Status, live.MonitorPid, live.MonitorStart, live.BootID = StatusRunning, os.Getpid(), start, bootID()
	old := testContainer("ffff0", "lastboot")
	old.Status, old.MonitorPid, old.MonitorStart, old.BootID = StatusRunning, os.Getpid(), start, "another-boot"
	for _, c := range []*Container{live, old} {
		if err := s.create(c, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := s.Get("live"); c == nil || c.Status != StatusRunning {
		t.Errorf("live container reconciled: %+v", c)
	}
	if c, _ := s.Get("lastboot"); c == nil || c.Status != StatusExited {
		t.Errorf("container from another boot still running: %+v", c)
	}
}

// A name is one file: removal frees it, and a reservation left by a crash
// (its container never written) does not block the name forever.
func TestStoreNameReservations(t *testing.T) {
	s := newTestStore(t)
	if err := s.create(testContainer("a1", "web"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.nameOwner("web"); got != "a1" {
		t.Errorf("name file of web = %q, want a1", got)
	}
	if err := s.remove("a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.namePath("web")); !os.IsNotExist(err) {
		t.Errorf("name file left after remove: %v", err)
	}
	os.WriteFile(s.namePath("db"), []byte("crashed"), 0o600)
	if err := s.create(testContainer("b2", "db"), nil, nil); err != nil {
		t.Errorf("stale reservation blocked the name: %v", err)
	}
	if c, err := s.Get("db"); err != nil || c.ID != "b2" {
		t.Errorf("Get(db) = %v, %v", c, err)
	}
}

// The files are written with the record; a file that cannot be written
// fails the create and leaves nothing.
func TestStoreCreateFiles(t *testing.T) {
	s := newTestStore(t)
	c := testContainer("dddd1111", "files")
	if err := s.create(c, map[string][]byte{"hostname": []byte("h\n"), "config.json": []byte("{}")}, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(s.Dir(c.ID), "config.json")); err != nil || string(b) != "{}" {
		t.Errorf("config.json = %q, %v", b, err)
	}
	bad := testContainer("eeee2222", "unmade")
	if err := s.create(bad, unwritable, nil); err == nil {
		t.Error("create with a file it cannot write succeeded")
	}
	if _, err := os.Stat(s.Dir(bad.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory of a failed create: %v", err)
	}
	if _, err := s.Get("unmade"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unmade) = %v, want ErrNotFound", err)
	}
}

// unwritable is a file a create cannot write: its directory does not exist.
var unwritable = map[string][]byte{"no-such-dir/config.json": []byte("{}")}

// A side task runs while the record is written; when it fails the create
// fails and leaves nothing, and when the create fails its undo runs.
func TestStoreCreateAlongside(t *testing.T) {
	s := newTestStore(t)
	ran := false
	ok := &sideTask{run: func() error { ran = true; return nil }, undo: func() { t.Error("undo after a create that worked") }}
	if err := s.create(testContainer("aaaa0001", "side"), nil, ok); err != nil || !ran {
		t.Fatalf("create: %v (side ran: %v)", err, ran)
	}
	undone := false
	failing := &sideTask{run: func() error { return errors.New("no cgroup") }, undo: func() { undone = true }}
	if err := s.create(testContainer("aaaa0002", "sidefails"), nil, failing); err == nil || !undone {
		t.Errorf("create with a failing side task: %v (undone: %v)", err, undone)
	}
	if _, err := os.Stat(s.Dir("aaaa0002")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory of the failed create: %v", err)
	}
	if err := s.create(testContainer("aaaa0003", "sidefails"), nil, nil); err != nil {
		t.Errorf("the name of the failed create is still taken: %v", err)
	}
	undone = false
	clash := &sideTask{run: func() error { return nil }, undo: func() { undone = true }}
	bad := testContainer("aaaa0004", "badpending")
	if err := s.create(bad, unwritable, clash); err == nil || !undone {
		t.Errorf("create failing after its side task: %v (undone: %v)", err, undone)
	}
}

// A create killed half-way leaves a directory without a record (and maybe
// a cgroup); the next listing removes both, and a directory whose record a
// crash left empty, but nothing that is not a container's.
func TestStoreListSweepsUnfinishedCreates(t *testing.T) {
	s := newTestStore(t)
	if err := s.create(testContainer("bbbb0001", "kept"), nil, nil); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%064x", 0x5eed0000+os.Getpid()) // an id of this test's own
	if err := os.MkdirAll(filepath.Join(s.Dir(id), "upper"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A crash can leave a --rm container's record empty: swept too.
	crashed := fmt.Sprintf("%064x", 0xc4a50000+os.Getpid())
	if err := os.MkdirAll(s.Dir(crashed), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(crashed), "state.json"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Not a container's: left alone.
	if err := os.Mkdir(filepath.Join(s.dir, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if _, err := cgroups.Create(id, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cg, err := cgroups.Load(id); err == nil {
				cg.Delete()
			}
		})
	}
	all, err := s.List()
	if err != nil || len(all) != 1 || all[0].ID != "bbbb0001" {
		t.Fatalf("List = %v, %v; want the one record", all, err)
	}
	if _, err := os.Stat(s.Dir(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unfinished create's directory: %v", err)
	}
	if _, err := cgroups.Load(id); !errors.Is(err, cgroups.ErrNotFound) {
		t.Errorf("unfinished create's cgroup: %v", err)
	}
	if _, err := os.Stat(s.Dir("bbbb0001")); err != nil {
		t.Errorf("a finished create's directory went: %v", err)
	}
	if _, err := os.Stat(s.Dir(crashed)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory with an empty record: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "lost+found")); err != nil {
		t.Errorf("lost+found went: %v", err)
	}
}
