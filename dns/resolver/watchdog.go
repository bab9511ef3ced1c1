package resolver

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/dns/resolver/watchdog"
)

// The watchdog (package watchdog, C) is a process beside the resolver: one
// of its own, since nothing in the resolver survives a kill -9, and not a
// monitor, since idle monitors are C shims that know nothing of DNS. It
// starts a new resolver when this one dies without closing, by exec, and
// holds a copy of every member's sockets, which the new resolver inherits:
// queries that arrive in between wait in them instead of being refused,
// and the ports stay the redirects'. This resolver starts a new watchdog
// whenever its members change (the old one ends once the new one runs, so
// a container's sockets, and so its namespace, go with its exit) and when
// the watchdog dies. Only both killed at once leaves the containers without
// a resolver until the next one registers.

// renewWatchdogSoon starts a new watchdog a moment after a burst of
// registrations or exits: one for the burst, not one for each.
func (r *resolver) renewWatchdogSoon() {
	if r.renewing.CompareAndSwap(false, true) {
		time.AfterFunc(20*time.Millisecond, func() {
			r.renewing.Store(false)
			r.renewWatchdog()
		})
	}
}

// renewWatchdog starts a watchdog holding the sockets of the members now,
// then ends the one before.
//
// It forks with syscall.ForkExec, not os/exec: os.StartProcess calls Fd on
// every file it passes, which puts the socket (one open file description
// with the resolver's own) in blocking mode, and a Close of a conn whose
// reader is then blocked in recvmsg waits for it for ever.
func (r *resolver) renewWatchdog() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return
	}
	defer null.Close()
	n := null.Fd() // blocking mode on /dev/null changes nothing
	// 0-2 /dev/null; 3 too: the ready pipe of the resolver it may start.
	files := []uintptr{n, n, n, n}
	var dups []int
	defer func() {
		for _, fd := range dups {
			unix.Close(fd)
		}
	}()
	var held []string
	for _, m := range r.members {
		if m.udp == nil {
			continue
		}
		u, err1 := dupConn(m.udp.(syscall.Conn))
		t, err2 := dupConn(m.tcp.(syscall.Conn))
		dups = append(dups, u, t)
		if err1 != nil || err2 != nil {
			continue
		}
		held = append(held, fmt.Sprintf("%s:%d:%d", m.id, len(files), len(files)+1))
		files = append(files, uintptr(u), uintptr(t))
	}
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"/proc/self/exe", watchdog.Command, r.dir}, &syscall.ProcAttr{
		Env:   watchdog.Env(r.dir, os.Getpid(), os.Getenv(watchdog.QuickEnv), strings.Join(held, ",")),
		Files: files,
	})
	var p *os.Process
	if err == nil {
		p, err = os.FindProcess(pid)
	}
	if err != nil {
		time.AfterFunc(time.Second, r.renewWatchdog)
		return
	}
	if r.watchdog != nil {
		r.watchdog.Kill()
	}
	r.watchdog = p
	started := time.Now()
	go func() {
		p.Wait()
		r.mu.Lock()
		replaced := r.watchdog != p
		r.mu.Unlock()
		if replaced {
			return
		}
		if time.Since(started) < time.Second { // no loop that burns a core
			time.Sleep(time.Second)
		}
		r.renewWatchdog()
	}()
}

// dupConn is a close-on-exec copy of c's socket, its mode left as it is.
func dupConn(c syscall.Conn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	cerr := raw.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 3) })
	if cerr != nil {
		return -1, cerr
	}
	return fd, err
}

// inheritedSockets are the sockets a watchdog held for the members of the
// resolver before this one, by container id: [udp fd, tcp fd].
func inheritedSockets() map[string][2]int {
	out := map[string][2]int{}
	for _, s := range strings.Split(os.Getenv(watchdog.SocketsEnv), ",") {
		f := strings.Split(s, ":")
		if len(f) != 3 {
			continue
		}
		u, err1 := strconv.Atoi(f[1])
		t, err2 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil && u > 2 && t > 2 {
			out[f[0]] = [2]int{u, t}
		}
	}
	return out
}

// adopt makes conns of an inherited pair of sockets, if they are bound to
// the ports rec says. The fds are closed either way.
func adopt(fds [2]int, rec record) (udp net.PacketConn, tcp net.Listener, ok bool) {
	uf, tf := os.NewFile(uintptr(fds[0]), "udp"), os.NewFile(uintptr(fds[1]), "tcp")
	defer uf.Close()
	defer tf.Close()
	udp, err := net.FilePacketConn(uf)
	if err != nil {
		return nil, nil, false
	}
	tcp, err = net.FileListener(tf)
	if err != nil {
		udp.Close()
		return nil, nil, false
	}
	ua, uok := udp.LocalAddr().(*net.UDPAddr)
	ta, tok := tcp.Addr().(*net.TCPAddr)
	if !uok || !tok || ua.Port != rec.UDPPort || ta.Port != rec.TCPPort || ua.IP.String() != ResolverAddr {
		udp.Close()
		tcp.Close()
		return nil, nil, false
	}
	return udp, tcp, true
}
