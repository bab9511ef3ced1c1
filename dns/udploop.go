package dns

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpLoop serves a UDP socket of this process with one goroutine that reads
// and answers through the socket's raw descriptor.
//
// Why so, rather than several goroutines in pc.ReadFrom: a lookup from the
// container is one datagram in and one out, and what it costs is thread
// wake-ups, not work (answering takes about 1 µs; a thread wake-up, under a
// hypervisor with other work on the machine, 10-100 µs). The resolver had
// 4.4 context switches per lookup with four readers, 2.1 with one, and has
// 1.0 (the one that is needed) with this loop. What the others were:
//
//   - Go serializes the reads of one socket: readers queue on its read lock,
//     and each datagram woke the next reader, on another thread, only to
//     find the socket empty and park again.
//   - A syscall made through the syscall package tells the runtime it may
//     block, and that wakes the runtime's monitor thread (sysmon) from its
//     deep sleep: recvfrom woke it on each query, and it then ran every
//     20 µs until it saw the process idle again.
//
// Here the goroutine waits in the runtime's poller (RawConn.Read parks it
// until the socket is readable: no thread of its own, nothing per
// container), then drains the socket with raw recvfrom and sendto that
// cannot block (MSG_DONTWAIT) and so need not tell the runtime, answering
// each local name before it reads the next. The asker's address goes back
// to sendto as the kernel gave it, never parsed or allocated.
func (s *Server) udpLoop(ctx context.Context, sc syscall.Conn, wg *sync.WaitGroup) error {
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, maxUDPQuery)
	var (
		from    unix.RawSockaddrAny
		fromLen uint32
		readErr error
	)
	drain := func(fd uintptr) bool {
		for {
			fromLen = unix.SizeofSockaddrAny
			n, errno := recvfrom(fd, buf, &from, &fromLen)
			switch errno {
			case 0:
			case unix.EAGAIN:
				return false // empty: park until readable
			case unix.EINTR:
				continue
			default:
				readErr = errno
				return true
			}
			out, fwd := s.answerUDP(buf[:n])
			if fwd != nil {
				peer, peerLen := from, fromLen // the next read reuses from
				s.forwardUDP(ctx, fwd, wg, func(out []byte) {
					_ = rc.Write(func(fd uintptr) bool { sendto(fd, out, &peer, peerLen); return true })
				})
			}
			if out != nil {
				sendto(fd, out, &from, fromLen)
			}
		}
	}
	for {
		if err := rc.Read(drain); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if readErr != nil {
			return readErr
		}
	}
}

// recvfrom and sendto are the raw system calls (see udpLoop for why raw),
// with MSG_DONTWAIT: a raw call that blocked would hold up the runtime, so
// they must not, whatever the socket's own mode (a socket inherited from
// another process shares its O_NONBLOCK with that process). sendto's errors
// are dropped: a lost reply is the client's to retry, as with any datagram.
func recvfrom(fd uintptr, p []byte, from *unix.RawSockaddrAny, fromLen *uint32) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(from)), uintptr(unsafe.Pointer(fromLen)))
	return int(n), errno
}

func sendto(fd uintptr, p []byte, to *unix.RawSockaddrAny, toLen uint32) {
	_, _, _ = syscall.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(to)), uintptr(toLen))
}
