// Package resolver runs hutch's embedded DNS for one hutch root: one process
// (`hutch _dns-serve DIR`) serving every running container that is on a
// user-defined network. The first such container starts it; it ends when the
// last one it serves exits.
//
// A container's monitor registers it over a unix socket in DIR, passing the
// container's network namespace and a pidfd of its init. The resolver opens
// a UDP and a TCP socket on 127.0.0.11 inside that namespace, on ports the
// kernel picks, and answers with them; the monitor then DNATs port 53 of
// 127.0.0.11 to them inside the container (network/nft), so the container's
// own processes can still bind port 53. Queries arrive on sockets that belong
// to one container, so the resolver knows who asks without looking at
// addresses. When the init exits, its pidfd says so and the sockets close at
// once (the watchdog's copies some 20 ms later): they must not keep the
// namespace (and its veth) alive.
//
// Names come with the registration, not from the runtime's records: the
// resolver imports nothing of the runtime, and a query never touches a file.
// It keeps each registration in a file of its own (records.go), though, and
// reloads them when it starts: it can die at any time, and a small watchdog
// (watchdog.go) starts another at once, which takes over the sockets the
// watchdog kept for the containers still running (or enters their
// namespaces and binds their ports again) before it answers anything, so
// that no query is refused or lost meanwhile, and no container's name is
// ever forwarded for want of its registration.
package resolver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/dns"
	"github.com/hutchrt/hutch/dns/resolver/watchdog"
	"github.com/hutchrt/hutch/network/link"
	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// ServeCommand is the hidden argv[1] of the resolver process.
const ServeCommand = "_dns-serve"

const socketName = "resolver.sock"

// ResolverAddr is where containers find the resolver.
const ResolverAddr = "127.0.0.11"

// request is one message from a hutch command to the resolver.
type request struct {
	Op        string      `json:"op"` // "register" (with the netns and pidfd) or "update"
	ID        string      `json:"id"`
	Upstreams []string    `json:"upstreams,omitempty"`
	Entries   []dns.Entry `json:"entries"`
}

type response struct {
	UDPPort int    `json:"udpPort,omitempty"`
	TCPPort int    `json:"tcpPort,omitempty"`
	Unknown bool   `json:"unknown,omitempty"` // update: the container is not served
	Error   string `json:"error,omitempty"`
}

// member is one container the resolver serves.
type member struct {
	id        string
	entries   []dns.Entry
	upstreams []string
	view      atomic.Pointer[dns.View]
	udp       net.PacketConn // nil (and tcp too) for one restored without sockets: its names still count
	tcp       net.Listener
	pidfd     int
	pid       int // of the container's init, for the record
	pidStart  uint64
}

// record is what a resolver started later needs to serve m again.
func (m *member) record() record {
	rec := record{ID: m.id, Pid: m.pid, PidStart: m.pidStart, Upstreams: m.upstreams, Entries: m.entries}
	if m.udp != nil {
		rec.UDPPort = m.udp.LocalAddr().(*net.UDPAddr).Port
		rec.TCPPort = m.tcp.Addr().(*net.TCPAddr).Port
	}
	return rec
}

func (m *member) networks() []string {
	var nets []string
	for _, e := range m.entries {
		nets = append(nets, e.Network)
	}
	return nets
}

type resolver struct {
	dir      string
	home     *os.File // this process's network namespace, to come back to
	listener *net.UnixListener
	epfd     int

	mu       sync.Mutex
	members  map[string]*member
	byPidfd  map[int]*member
	closing  bool
	watchdog *os.Process
	trimming atomic.Bool
	renewing atomic.Bool
}

// Serve is the resolver process. ready (fd 3) gets "ok" once it listens.
func Serve(dir string) {
	ready := os.NewFile(3, "ready")
	err := serve(dir, ready)
	if err != nil {
		fmt.Fprintln(ready, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serve(dir string, ready *os.File) error {
	lock, serving, err := lockOrDefer(dir)
	if err != nil {
		return err
	}
	if serving { // another resolver of this root serves: let the caller use it
		ready.WriteString("ok\n")
		return nil
	}
	// Held for the life of the process (it must not be collected, and so
	// closed, before then).
	defer lock.Close()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	r := &resolver{dir: dir, home: home, epfd: epfd,
		members: map[string]*member{}, byPidfd: map[int]*member{}}
	// Every container a resolver before this one served, before anything
	// else: a query (or a registration) must never find a view without them.
	r.reload()
	r.trimSoon()
	sock := filepath.Join(dir, socketName)
	os.Remove(sock) // left by a resolver that crashed
	if _, restarted := os.LookupEnv(watchdog.QuickEnv); restarted && len(r.members) == 0 {
		return nil // started by a watchdog for containers that are all gone since
	}
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return err
	}
	r.listener = l
	go r.watchExits()
	// Started for a container that then failed to register: do not linger.
	time.AfterFunc(10*time.Second, r.exitIfIdle)
	ready.WriteString("ok\n")
	ready.Close()
	r.renewWatchdog() // after the close: fd 3 is inherited, and the watchdog must not hold it
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil // closed: exitIfIdle ends the process
		}
		go r.handle(c)
	}
}

// handle answers one request.
func (r *resolver) handle(c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, requestSize(c))
	oob := make([]byte, unix.CmsgSpace(2*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	fds := receivedFds(oob[:oobn])
	var req request
	resp := response{}
	if err := json.Unmarshal(buf[:n], &req); err != nil {
		resp.Error = "bad request: " + err.Error()
	} else {
		resp = r.apply(req, fds)
	}
	for _, fd := range fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	b, _ := json.Marshal(resp)
	c.Write(b)
	r.trimSoon()
	if req.Op == "register" && resp.Error == "" {
		r.renewWatchdogSoon()
	}
}

// trimSoon gives the kernel back, a moment after a burst of registrations
// or exits, the memory they used: rebuilding views and decoding requests
// leave garbage that the GC frees but the runtime returns only slowly
// (with 50 containers registered, 4.3 MiB of anonymous memory without,
// 3.1 with). A soft memory limit does it too, but one low enough to matter
// starves the GC under a query load (42,000 queries/s became 2,800 at
// 4 MiB), and the right one would grow with the members.
func (r *resolver) trimSoon() {
	if r.trimming.CompareAndSwap(false, true) {
		time.AfterFunc(500*time.Millisecond, func() {
			r.trimming.Store(false)
			debug.FreeOSMemory()
		})
	}
}

// requestSize is the size of the request waiting on c (a message boundary
// on a unixpacket socket): a buffer of 1 MiB each time would cost the heap
// a megabyte a registration, which it returns to the kernel only slowly.
func requestSize(c *net.UnixConn) int {
	size := 64 << 10
	raw, err := c.SyscallConn()
	if err != nil {
		return size
	}
	raw.Read(func(fd uintptr) bool {
		n, _, _, _, err := unix.Recvmsg(int(fd), nil, nil, unix.MSG_PEEK|unix.MSG_TRUNC)
		if errors.Is(err, unix.EAGAIN) {
			return false // not there yet: wait (until c's deadline)
		}
		if err == nil && n > 0 {
			size = n
		}
		return true
	})
	return size
}

// apply carries out a request; it takes ownership of the fds it keeps
// (setting them to -1).
func (r *resolver) apply(req request, fds []int) response {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return response{Error: errExiting.Error()}
	}
	switch req.Op {
	case "update":
		m := r.members[req.ID]
		if m == nil {
			return response{Unknown: true}
		}
		m.entries = req.Entries
		r.rebuildViews()
		if err := saveRecord(r.dir, m.record()); err != nil {
			return response{Error: err.Error()}
		}
		return response{}
	case "register":
	default:
		return response{Error: "unknown op " + req.Op}
	}
	if len(fds) != 2 {
		return response{Error: "register needs a netns and a pidfd"}
	}
	if old := r.members[req.ID]; old != nil { // a restart whose exit we have not seen yet
		r.dropLocked(old)
	}
	// The init's pid and start time, read while the pidfd says it is the
	// same process, are how a later resolver finds it again.
	pid := pidfdPid(fds[1])
	start := procstart.Of(pid)
	if pidfdPid(fds[1]) != pid {
		start = 0
	}
	udp, tcp, err := r.listenIn(fds[0], 0, 0)
	if err != nil {
		return response{Error: err.Error()}
	}
	m := &member{id: req.ID, entries: req.Entries, upstreams: req.Upstreams,
		udp: udp, tcp: tcp, pidfd: fds[1], pid: pid, pidStart: start}
	fds[1] = -1
	if err := r.addLocked(m); err != nil {
		return response{Error: err.Error()}
	}
	// Saved before the answer: a registration the monitor saw succeed
	// survives this process. (An init already gone has no record to save;
	// its pidfd drops it at once.)
	if start != 0 {
		if err := saveRecord(r.dir, m.record()); err != nil {
			r.dropLocked(m)
			return response{Error: err.Error()}
		}
	}
	r.rebuildViews()
	r.serveMember(m)
	rec := m.record()
	return response{UDPPort: rec.UDPPort, TCPPort: rec.TCPPort}
}

// addLocked makes m a member, watched for its init's exit. On error m's
// sockets and pidfd are closed.
func (r *resolver) addLocked(m *member) error {
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, m.pidfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(m.pidfd)}); err != nil {
		m.closeSockets()
		unix.Close(m.pidfd)
		return fmt.Errorf("watch container: %w", err)
	}
	r.members[m.id] = m
	r.byPidfd[m.pidfd] = m
	return nil
}

// serveMember answers on m's sockets, once m has its view.
func (r *resolver) serveMember(m *member) {
	if m.udp == nil {
		return
	}
	srv := &dns.Server{
		View:    m.view.Load,
		Forward: &dns.Forwarder{Upstreams: m.upstreams},
	}
	go srv.ServeUDP(m.udp)
	go srv.ServeTCP(m.tcp)
}

func (m *member) closeSockets() {
	if m.udp != nil {
		m.udp.Close()
		m.tcp.Close()
	}
}

// reload serves again the containers of the records a resolver before this
// one left. A record whose init is gone (the container exited or was
// removed while no resolver ran) is removed, not served: its pid and start
// time no longer name a live process.
func (r *resolver) reload() {
	recs, _ := loadRecords(r.dir)
	inherited := inheritedSockets()
	defer func() { // those of containers gone meanwhile: their namespaces must go
		for _, fds := range inherited {
			unix.Close(fds[0])
			unix.Close(fds[1])
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	var restored []*member
	for _, rec := range recs {
		fds, ok := inherited[rec.ID]
		delete(inherited, rec.ID)
		if !ok {
			fds = [2]int{-1, -1}
		}
		m, err := r.restore(rec, fds)
		if err != nil {
			removeRecord(r.dir, rec.ID)
			continue
		}
		restored = append(restored, m)
	}
	// One view for all, then the sockets: queries that arrived since they
	// were bound waited in them for this.
	r.rebuildViews()
	for _, m := range restored {
		r.serveMember(m)
	}
}

var errGone = errors.New("the container's init is gone")

// restore enters the namespace of rec's container, if its init still runs,
// and takes over the sockets the watchdog held for it (fds, closed here)
// or else binds the ports its redirect points at. Should one be taken by now,
// new ports are bound and the redirect moves to them; should that fail too,
// the member is kept without sockets, so that the others still find its
// names.
func (r *resolver) restore(rec record, fds [2]int) (*member, error) {
	var udp net.PacketConn
	var tcp net.Listener
	adopted := false
	if fds[0] >= 0 {
		udp, tcp, adopted = adopt(fds, rec)
	}
	pidfd, err := unix.PidfdOpen(rec.Pid, 0)
	if err != nil {
		if adopted {
			udp.Close()
			tcp.Close()
		}
		return nil, errGone
	}
	// Checked after the open: the pidfd and the namespace are those of the
	// recorded process, not of one that got its pid since.
	ns, err := os.Open("/proc/" + strconv.Itoa(rec.Pid) + "/ns/net")
	if err != nil || procstart.Of(rec.Pid) != rec.PidStart {
		if ns != nil {
			ns.Close()
		}
		if adopted {
			udp.Close()
			tcp.Close()
		}
		unix.Close(pidfd)
		return nil, errGone
	}
	defer ns.Close()
	m := &member{id: rec.ID, entries: rec.Entries, upstreams: rec.Upstreams,
		pidfd: pidfd, pid: rec.Pid, pidStart: rec.PidStart}
	if adopted {
		m.udp, m.tcp = udp, tcp
	} else {
		m.udp, m.tcp, err = r.listenIn(int(ns.Fd()), rec.UDPPort, rec.TCPPort)
	}
	if err != nil {
		if m.udp, m.tcp, err = r.listenIn(int(ns.Fd()), 0, 0); err == nil {
			rec := m.record()
			if err = nft.RedirectDNS(int(ns.Fd()), netip.MustParseAddr(ResolverAddr), uint16(rec.UDPPort), uint16(rec.TCPPort)); err != nil {
				m.closeSockets()
			}
		}
		if err != nil {
			m.udp, m.tcp = nil, nil
		}
		saveRecord(r.dir, m.record())
	}
	if err := r.addLocked(m); err != nil {
		return nil, err
	}
	return m, nil
}

// listenIn opens the container's sockets inside its namespace. The thread
// goes back home after; if it cannot, it stays locked and dies with the
// goroutine rather than serve anyone from the wrong namespace.
func (r *resolver) listenIn(netns, udpPort, tcpPort int) (udp net.PacketConn, tcp net.Listener, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		goruntime.LockOSThread()
		if err = unix.Setns(netns, unix.CLONE_NEWNET); err != nil {
			err = fmt.Errorf("enter the container's network: %w", err)
			return
		}
		// The init brings lo up too, but maybe not yet: 127.0.0.11 must be
		// local before anything is bound to it or sent from it.
		if err = link.LoopbackUp(); err != nil {
			return
		}
		var lc net.ListenConfig
		udp, err = lc.ListenPacket(nil, "udp4", net.JoinHostPort(ResolverAddr, strconv.Itoa(udpPort)))
		if err == nil {
			if tcp, err = lc.Listen(nil, "tcp4", net.JoinHostPort(ResolverAddr, strconv.Itoa(tcpPort))); err != nil {
				udp.Close()
			}
		}
		if unix.Setns(int(r.home.Fd()), unix.CLONE_NEWNET) == nil {
			goruntime.UnlockOSThread()
		}
	}()
	<-done
	return udp, tcp, err
}

// rebuildViews gives every member the view of the networks it is on. Members
// on the same networks share one view, so a change costs one pass over the
// entries per distinct set of networks (usually one), not one per member.
// Views are immutable: queries in flight keep the one they loaded.
func (r *resolver) rebuildViews() {
	views := map[string]*dns.View{}
	for _, m := range r.members {
		nets := m.networks()
		slices.Sort(nets)
		key := strings.Join(nets, "\x00")
		v, ok := views[key]
		if !ok {
			var entries []dns.Entry
			for _, other := range r.members {
				for _, e := range other.entries {
					if _, found := slices.BinarySearch(nets, e.Network); found {
						entries = append(entries, e)
					}
				}
			}
			v = dns.NewView(entries)
			views[key] = v
		}
		m.view.Store(v)
	}
}

// watchExits drops a member as soon as its init exits.
func (r *resolver) watchExits() {
	events := make([]unix.EpollEvent, 16)
	for {
		n, err := unix.EpollWait(r.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		r.mu.Lock()
		for _, ev := range events[:n] {
			if m := r.byPidfd[int(ev.Fd)]; m != nil {
				r.dropLocked(m)
			}
		}
		r.mu.Unlock()
		r.exitIfIdle()
		r.trimSoon()
		r.renewWatchdogSoon()
	}
}

func (r *resolver) dropLocked(m *member) {
	unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, m.pidfd, nil)
	m.closeSockets()
	unix.Close(m.pidfd)
	delete(r.byPidfd, m.pidfd)
	delete(r.members, m.id)
	removeRecord(r.dir, m.id)
	r.rebuildViews()
}

var errExiting = errors.New("resolver exiting")

// exitIfIdle ends the process when it serves nobody. The socket goes first,
// under the lock: a monitor that comes later starts a new resolver.
func (r *resolver) exitIfIdle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.members) > 0 || r.closing {
		return
	}
	r.closing = true
	os.Remove(filepath.Join(r.dir, socketName))
	r.listener.Close()
	if r.watchdog != nil {
		r.watchdog.Kill()
	}
	os.Exit(0)
}

func receivedFds(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if f, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, f...)
		}
	}
	return fds
}

// lockOrDefer takes the root's resolver lock (an flock on dir), unless
// another resolver holds it and answers on the socket: then serving is true.
// One that holds it without answering is starting up or exiting: wait.
func lockOrDefer(dir string) (lock *os.File, serving bool, err error) {
	lock, err = os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	sock := &net.UnixAddr{Name: filepath.Join(dir, socketName), Net: "unixpacket"}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return lock, false, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			break
		}
		if c, err := net.DialUnix("unixpacket", nil, sock); err == nil {
			c.Close()
			lock.Close()
			return nil, true, nil
		}
	}
	lock.Close()
	return nil, false, fmt.Errorf("lock %s: %v", dir, err)
}
