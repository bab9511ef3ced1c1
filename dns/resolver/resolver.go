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
// once: they must not keep the namespace (and its veth) alive.
//
// Names come with the registration, not from disk: the resolver imports
// nothing of the runtime, and a query never touches a file.
package resolver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/dns"
	"github.com/hutchrt/hutch/network/link"
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
	id      string
	entries []dns.Entry
	view    atomic.Pointer[dns.View]
	udp     net.PacketConn
	tcp     net.Listener
	pidfd   int
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

	mu      sync.Mutex
	members map[string]*member
	byPidfd map[int]*member
	closing bool
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
	sock := filepath.Join(dir, socketName)
	os.Remove(sock) // left by a resolver that crashed
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		return err
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	r := &resolver{dir: dir, home: home, listener: l, epfd: epfd,
		members: map[string]*member{}, byPidfd: map[int]*member{}}
	go r.watchExits()
	// Started for a container that then failed to register: do not linger.
	time.AfterFunc(10*time.Second, r.exitIfIdle)
	ready.WriteString("ok\n")
	ready.Close()
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
	buf := make([]byte, 1<<20)
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
	udp, tcp, err := r.listenIn(fds[0])
	if err != nil {
		return response{Error: err.Error()}
	}
	m := &member{id: req.ID, entries: req.Entries, udp: udp, tcp: tcp, pidfd: fds[1]}
	fds[1] = -1
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, m.pidfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(m.pidfd)}); err != nil {
		udp.Close()
		tcp.Close()
		unix.Close(m.pidfd)
		return response{Error: fmt.Sprintf("watch container: %v", err)}
	}
	r.members[m.id] = m
	r.byPidfd[m.pidfd] = m
	r.rebuildViews()
	srv := &dns.Server{
		View:    m.view.Load,
		Forward: &dns.Forwarder{Upstreams: req.Upstreams},
	}
	go srv.ServeUDP(udp)
	go srv.ServeTCP(tcp)
	return response{UDPPort: udp.LocalAddr().(*net.UDPAddr).Port, TCPPort: tcp.Addr().(*net.TCPAddr).Port}
}

// listenIn opens the container's sockets inside its namespace. The thread
// goes back home after; if it cannot, it stays locked and dies with the
// goroutine rather than serve anyone from the wrong namespace.
func (r *resolver) listenIn(netns int) (udp net.PacketConn, tcp net.Listener, err error) {
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
		udp, err = lc.ListenPacket(nil, "udp4", ResolverAddr+":0")
		if err == nil {
			if tcp, err = lc.Listen(nil, "tcp4", ResolverAddr+":0"); err != nil {
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
	}
}

func (r *resolver) dropLocked(m *member) {
	unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, m.pidfd, nil)
	m.udp.Close()
	m.tcp.Close()
	unix.Close(m.pidfd)
	delete(r.byPidfd, m.pidfd)
	delete(r.members, m.id)
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
