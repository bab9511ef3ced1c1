package resolver

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/dns"
	"github.com/hutchrt/hutch/dns/resolver/watchdog"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// A record reads back as written; a new one replaces the old; what does not
// parse, or a temporary file a crash left, is removed on load.
func TestRecords(t *testing.T) {
	dir := t.TempDir()
	a := record{ID: "aaa", Pid: 10, PidStart: 99, UDPPort: 4000, TCPPort: 4001, Upstreams: []string{"192.0.2.1:53"},
		Entries: []dns.Entry{{Network: "n", Names: []string{"a", "x"}, IP: netip.MustParseAddr("10.0.0.2")}}}
	b := record{ID: "bbb", Pid: 11, PidStart: 100, Entries: []dns.Entry{}}
	for _, r := range []record{a, b} {
		if err := saveRecord(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	a.UDPPort = 5000
	if err := saveRecord(dir, a); err != nil {
		t.Fatal(err)
	}
	members := filepath.Join(dir, membersDir)
	junk := []string{"ccc.json", "ddd.json.tmp", "eee.json"}
	os.WriteFile(filepath.Join(members, junk[0]), []byte("{not json"), 0o600)
	os.WriteFile(filepath.Join(members, junk[1]), []byte(`{"id":"ddd","pid":1}`), 0o600)
	os.WriteFile(filepath.Join(members, junk[2]), []byte(`{"id":"other","pid":1}`), 0o600) // not its own name
	got, err := loadRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []record{a, b}; !reflect.DeepEqual(got, want) {
		t.Errorf("loaded %+v, want %+v", got, want)
	}
	for _, j := range junk {
		if _, err := os.Stat(filepath.Join(members, j)); !os.IsNotExist(err) {
			t.Errorf("%s is left after a load: %v", j, err)
		}
	}
	removeRecord(dir, "aaa")
	if got, _ := loadRecords(dir); len(got) != 1 || got[0].ID != "bbb" {
		t.Errorf("after removing aaa: %+v", got)
	}
	for _, id := range []string{"", "../x", "a.b"} {
		if err := saveRecord(dir, record{ID: id, Pid: 1}); err == nil {
			t.Errorf("saved a record with id %q", id)
		}
	}
}

// A pidfd names its process by pid while it runs, and by nothing once it is
// reaped; its start time stays what it was until it exits.
func TestPidfdPidAndStart(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	if got := pidfdPid(pidfd); got != pid {
		t.Errorf("pidfdPid = %d, want %d", got, pid)
	}
	start := procstart.Of(pid)
	if start == 0 || start != procstart.Of(pid) {
		t.Errorf("procStart = %d", start)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if got := pidfdPid(pidfd); got != 0 {
		t.Errorf("pidfdPid of a reaped process = %d, want 0", got)
	}
	if got := procstart.Of(pid); got != 0 {
		t.Errorf("procStart of a reaped process = %d, want 0", got)
	}
}

// A record whose init is gone, or whose pid now names another process, is
// not served again.
func TestRestoreRefusesTheDead(t *testing.T) {
	r := &resolver{dir: t.TempDir(), members: map[string]*member{}, byPidfd: map[int]*member{}}
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	if _, err := r.restore(record{ID: "reused", Pid: pid, PidStart: procstart.Of(pid) + 1}, [2]int{-1, -1}); err != errGone {
		t.Errorf("restore with another start time: %v, want %v", err, errGone)
	}
	dead := exec.Command("true")
	dead.Run()
	if _, err := r.restore(record{ID: "dead", Pid: dead.Process.Pid, PidStart: 1}, [2]int{-1, -1}); err != errGone {
		t.Errorf("restore of an exited process: %v, want %v", err, errGone)
	}
	if len(r.members) != 0 {
		t.Errorf("members after refused restores: %v", r.members)
	}
}

// A request is read whole, whatever its size, into a buffer of its size.
func TestRequestSize(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	f := os.NewFile(uintptr(fds[0]), "server")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := fc.(*net.UnixConn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, size := range []int{100, 200 << 10} {
		if err := unix.Sendmsg(fds[1], make([]byte, size), nil, nil, 0); err != nil {
			t.Fatal(err)
		}
		if got := requestSize(c); got != size {
			t.Errorf("requestSize of a %d-byte request = %d", size, got)
		}
		buf := make([]byte, size+1)
		if n, err := c.Read(buf); n != size || err != nil {
			t.Errorf("read %d, %v after the peek, want %d", n, err, size)
		}
	}
}

// The sockets a watchdog passes on are read from its list; malformed
// entries and the standard streams are ignored.
func TestInheritedSockets(t *testing.T) {
	t.Setenv(watchdog.SocketsEnv, "aaa:5:6,bad,bbb:x:7,ccc:1:2,,ddd:8:9")
	got := inheritedSockets()
	want := map[string][2]int{"aaa": {5, 6}, "ddd": {8, 9}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("inheritedSockets = %v, want %v", got, want)
	}
}

// Inherited sockets are taken over only if they are bound where the record
// says; either way their fds are closed.
func TestAdopt(t *testing.T) {
	sockets := func() ([2]int, record) {
		u, err := net.ListenPacket("udp4", ResolverAddr+":0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp4", ResolverAddr+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		defer l.Close()
		ufd, err1 := dupConn(u.(syscall.Conn))
		tfd, err2 := dupConn(l.(syscall.Conn))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		return [2]int{ufd, tfd}, record{UDPPort: u.LocalAddr().(*net.UDPAddr).Port, TCPPort: l.Addr().(*net.TCPAddr).Port}
	}
	closed := func(fds [2]int) bool {
		_, e1 := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0)
		_, e2 := unix.FcntlInt(uintptr(fds[1]), unix.F_GETFD, 0)
		return e1 != nil && e2 != nil
	}
	fds, rec := sockets()
	udp, tcp, ok := adopt(fds, rec)
	if !ok {
		t.Fatalf("sockets bound where the record says were not adopted")
	}
	if udp.LocalAddr().(*net.UDPAddr).Port != rec.UDPPort || tcp.Addr().(*net.TCPAddr).Port != rec.TCPPort {
		t.Errorf("adopted %v and %v, want ports %d/%d", udp.LocalAddr(), tcp.Addr(), rec.UDPPort, rec.TCPPort)
	}
	udp.Close()
	tcp.Close()
	if !closed(fds) {
		t.Errorf("the inherited fds %v are still open after adopt", fds)
	}
	fds, rec = sockets()
	rec.TCPPort++
	if _, _, ok := adopt(fds, rec); ok {
		t.Errorf("sockets on other ports than the record's were adopted")
	}
	if !closed(fds) {
		t.Errorf("the inherited fds %v are still open after a refused adopt", fds)
	}
}
