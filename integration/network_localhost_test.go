//go:build integration

package integration

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestNetworkLoopbackOnlyFromHost: a port published on 127.0.0.1 answers
// only on this host, and the host's loopback services answer nobody else,
// even with route_localnet=1 and br_netfilter on, as Docker and Podman
// leave them (the moby#45610 class). (Before the raw drop, a published
// 127.0.0.1 port answered the outside even with route_localnet=0: the DNAT
// rewrites the address before the kernel's martian check sees it.) A neighbour (an outside netns) and a
// container send TCP SYNs to 127.0.0.1 in raw Ethernet frames at the host's
// MAC, which no kernel socket would send: no SYN-ACK may come back. The same
// frames to a host address do get one (so the probe works), and a port
// published on one host address answers on no other.
func TestNetworkLoopbackOnlyFromHost(t *testing.T) {
	e := newEnv(t)
	o := netNewOutside(t, "loop", "198.51.100.241", "198.51.100.242")
	// The states Docker and Podman leave behind, restored after the test.
	loSetSysctl(t, "net/ipv4/conf/all/route_localnet", "1")
	loSetSysctl(t, "net/ipv4/conf/"+o.hostIf+"/route_localnet", "1")
	loBrNetfilter(t)

	nw := e.netCreate("loopnet", "--subnet", "10.219.7.0/24")
	pLo, pAny, pOne := netFreePort(t), netFreePort(t), netFreePort(t)
	e.netStartWeb([]string{"--name", "web", "--network", "loopnet",
		"-p", fmt.Sprintf("127.0.0.1:%d:80", pLo),
		"-p", fmt.Sprintf("%d:80", pAny),
		"-p", fmt.Sprintf("%s:%d:80", o.hostIP, pOne)})
	prober := e.lcRunDetached("--name", "prober", "--network", "loopnet", "busybox", "sleep", "1000")

	// A service of the host's own on loopback, and one on the bridge's
	// address for the container's positive control.
	pHost := netFreePort(t)
	for _, a := range []string{"127.0.0.1", nw.Gateway} {
		l, err := loListen(fmt.Sprintf("%s:%d", a, pHost))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}

	// From the outside host, at the host veth's MAC.
	outside := loProber{t: t, netns: filepath.Join("/var/run/netns", o.ns), ifname: "hitploop",
		src: netip.MustParseAddr(o.nsIP), dstMAC: loMAC(t, o.hostIf)}
	// From the prober container, at its bridge's MAC.
	inside := loProber{t: t, netns: fmt.Sprintf("/proc/%d/ns/net", e.runPid(prober)), ifname: "eth0",
		src: netip.MustParseAddr(e.netIP(prober)), dstMAC: loMAC(t, nw.Bridge)}

	tests := []struct {
		name   string
		from   loProber
		dst    string
		port   int
		answer bool
	}{
		// Positive controls: the frames work.
		{"outside -> host address, port published on every address", outside, o.hostIP, pAny, true},
		{"outside -> host address, port published on it", outside, o.hostIP, pOne, true},
		{"container -> bridge address, host service", inside, nw.Gateway, pHost, true},

		{"outside -> 127.0.0.1, port published on 127.0.0.1", outside, "127.0.0.1", pLo, false},
		{"outside -> 127.0.0.1, port published on every address", outside, "127.0.0.1", pAny, false},
		{"outside -> 127.0.0.1, host service on loopback", outside, "127.0.0.1", pHost, false},
		{"outside -> 127.0.0.2, port published on every address", outside, "127.0.0.2", pAny, false},
		{"container -> 127.0.0.1, port published on 127.0.0.1", inside, "127.0.0.1", pLo, false},
		{"container -> 127.0.0.1, host service on loopback", inside, "127.0.0.1", pHost, false},
		// A port published on one host address, through the others.
		{"outside -> host address, port published on 127.0.0.1", outside, o.hostIP, pLo, false},
		{"outside -> bridge address, port published on the host veth's address", outside, nw.Gateway, pOne, false},
	}
	for _, tt := range tests {
		got := tt.from.synAck(netip.MustParseAddr(tt.dst), uint16(tt.port))
		if got != tt.answer {
			t.Errorf("%s (%s:%d): SYN-ACK %v, want %v", tt.name, tt.dst, tt.port, got, tt.answer)
		}
	}

	// The host itself still reaches the port published on 127.0.0.1.
	if body, err := netHostGet(fmt.Sprintf("http://127.0.0.1:%d/", pLo)); err != nil || body != "port80" {
		t.Errorf("host -> 127.0.0.1:%d: %q, %v", pLo, body, err)
	}
}

// loProber sends TCP SYNs in raw Ethernet frames from interface ifname of
// the network namespace at path netns, with source address src, to dstMAC.
type loProber struct {
	t      *testing.T
	netns  string
	ifname string
	src    netip.Addr
	dstMAC net.HardwareAddr
}

// synAck sends one SYN to dst:port and reports whether a SYN-ACK for it
// comes back within 2 s. (The namespace's kernel answers that SYN-ACK with a
// RST, having no socket for it; the AF_PACKET socket sees it first.)
func (p loProber) synAck(dst netip.Addr, port uint16) bool {
	p.t.Helper()
	var fd, ifindex int
	var srcMAC net.HardwareAddr
	err := inNetNS(p.netns, func() error {
		ifc, err := net.InterfaceByName(p.ifname)
		if err != nil {
			return err
		}
		ifindex, srcMAC = ifc.Index, ifc.HardwareAddr
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(loHtons(unix.ETH_P_IP)))
		return err
	})
	if err != nil {
		p.t.Fatalf("AF_PACKET socket on %s in %s: %v", p.ifname, p.netns, err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: loHtons(unix.ETH_P_IP), Ifindex: ifindex}); err != nil {
		p.t.Fatalf("bind AF_PACKET socket to %s: %v", p.ifname, err)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		p.t.Fatal(err)
	}
	sport := uint16(40000 + rand.IntN(20000))
	frame := loSYNFrame(srcMAC, p.dstMAC, p.src, dst, sport, port)
	to := &unix.SockaddrLinklayer{Protocol: loHtons(unix.ETH_P_IP), Ifindex: ifindex, Halen: 6}
	copy(to.Addr[:], p.dstMAC)
	if err := unix.Sendto(fd, frame, 0, to); err != nil {
		p.t.Fatalf("send SYN to %s:%d: %v", dst, port, err)
	}
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			p.t.Fatalf("receive on %s: %v", p.ifname, err)
		}
		if flags, ok := loTCPReply(buf[:n], dst, p.src, port, sport); ok {
			if flags&loRST != 0 {
				return false // refused: a definite no, no need to wait on
			}
			if flags&(loSYN|loACK) == loSYN|loACK {
				return true
			}
		}
	}
	return false
}

const (
	loSYN = 0x02
	loRST = 0x04
	loACK = 0x10
)

// loSYNFrame builds Ethernet + IPv4 + TCP SYN with correct checksums.
func loSYNFrame(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, sport, dport uint16) []byte {
	eth := make([]byte, 14)
	copy(eth[0:6], dstMAC)
	copy(eth[6:12], srcMAC)
	binary.BigEndian.PutUint16(eth[12:], unix.ETH_P_IP)

	ip := make([]byte, 20)
	ip[0] = 0x45                              // version 4, 5 words
	binary.BigEndian.PutUint16(ip[2:], 20+20) // total length
	binary.BigEndian.PutUint16(ip[4:], uint16(rand.Uint32()))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8], ip[9] = 64, unix.IPPROTO_TCP
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	binary.BigEndian.PutUint16(ip[10:], loChecksum(ip))

	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], rand.Uint32()) // sequence number
	tcp[12] = 5 << 4                                   // 5 words, no options
	tcp[13] = loSYN
	binary.BigEndian.PutUint16(tcp[14:], 64240) // window
	pseudo := append(append(append([]byte{}, s4[:]...), d4[:]...), 0, unix.IPPROTO_TCP, 0, byte(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], loChecksum(append(pseudo, tcp...)))

	return append(append(eth, ip...), tcp...)
}

// loChecksum is the Internet checksum (RFC 1071) of b.
func loChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// loTCPReply returns the TCP flags of frame if it is an IPv4 TCP segment
// from src:sport to dst:dport.
func loTCPReply(frame []byte, src, dst netip.Addr, sport, dport uint16) (flags byte, ok bool) {
	if len(frame) < 14+20 || binary.BigEndian.Uint16(frame[12:]) != unix.ETH_P_IP {
		return 0, false
	}
	ip := frame[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ip[9] != unix.IPPROTO_TCP || len(ip) < ihl+20 {
		return 0, false
	}
	if netip.AddrFrom4([4]byte(ip[12:16])) != src || netip.AddrFrom4([4]byte(ip[16:20])) != dst {
		return 0, false
	}
	tcp := ip[ihl:]
	if binary.BigEndian.Uint16(tcp[0:]) != sport || binary.BigEndian.Uint16(tcp[2:]) != dport {
		return 0, false
	}
	return tcp[13], true
}

func loHtons(v uint16) uint16 { return v<<8 | v>>8 }

// loMAC reads the MAC of host interface name.
func loMAC(t *testing.T, name string) net.HardwareAddr {
	t.Helper()
	ifc, err := net.InterfaceByName(name)
	if err != nil || len(ifc.HardwareAddr) != 6 {
		t.Fatalf("MAC of %s: %v, %v", name, ifc, err)
	}
	return ifc.HardwareAddr
}

// loListen listens on addr (TCP) and accepts, holding the connections.
func loListen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l, nil
}

// inNetNS runs fn on a thread inside the network namespace at path:
// sockets fn makes stay there, whatever thread uses them later. The thread
// goes back to the test's namespace after (if it cannot, it stays locked and
// ends with its goroutine).
func inNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer home.Close()
		f, err := os.Open(path)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		err = fn()
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			goruntime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// loSetSysctl writes value to /proc/sys/key and restores the old value when
// the test ends (a per-interface key whose interface is gone by then is
// skipped).
func loSetSysctl(t *testing.T, key, value string) {
	t.Helper()
	path := filepath.Join("/proc/sys", key)
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("sysctl %s: %v", key, err)
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		t.Fatalf("sysctl %s=%s: %v", key, value, err)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(path); err != nil {
			return
		}
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Errorf("restore sysctl %s=%s: %v", key, strings.TrimSpace(string(old)), err)
		}
	})
}

// loBrNetfilter makes bridged IPv4 go through the ip hooks (br_netfilter,
// bridge-nf-call-iptables=1), loading the module if it is not there, and
// unloads it after if this test loaded it.
func loBrNetfilter(t *testing.T) {
	t.Helper()
	const key = "net/bridge/bridge-nf-call-iptables"
	if _, err := os.Stat(filepath.Join("/proc/sys", key)); err != nil {
		if out, err := exec.Command("modprobe", "br_netfilter").CombinedOutput(); err != nil {
			t.Fatalf("modprobe br_netfilter: %v: %s", err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command("modprobe", "-r", "br_netfilter").CombinedOutput(); err != nil {
				t.Logf("modprobe -r br_netfilter (in use?): %v: %s", err, out)
			}
		})
	}
	loSetSysctl(t, key, "1")
}
