package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/link"
	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/network/portspec"
)

// throwawayHost moves the test's goroutine, for good, onto a thread in a
// network namespace of its own (the "host": bridges, veths, the nft table
// and bound ports all land there) and returns a second one for the
// container. The thread stays locked, so it dies with the test's goroutine
// and nothing of either namespace outlives the test.
func throwawayHost(t *testing.T) (ctr *os.File) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN)")
	}
	runtime.LockOSThread() // never unlocked: see above
	const self = "/proc/thread-self/ns/net"
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	host, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare: %v", err)
	}
	ctr, err = os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctr.Close() })
	if err := unix.Setns(int(host.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("back to the test's host namespace: %v", err)
	}
	return ctr
}

// failingDNS is a registrar that refuses.
type failingDNS struct{}

func (failingDNS) Register(ns *os.File) error { return errors.New("dns resolver: no") }

// TestAttachContainerKernel makes and undoes attachments with the real
// kernel in a throwaway namespace, failing one step at a time: whatever
// the step, no veth, no published port and no bound host port is left.
func TestAttachContainerKernel(t *testing.T) {
	ctr := throwawayHost(t)
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Create("attachnet", CreateOptions{Subnet: "10.97.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	free := func() uint16 { // a host port free in the test's namespace now
		l, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return uint16(l.Addr().(*net.TCPAddr).Port)
	}
	owner := 0
	endpoint := func() *Endpoint {
		owner++
		ep, err := s.newEndpoint(n, strings.Repeat(fmt.Sprint(owner), 64), 0, netip.Addr{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}
	// nothingLeft checks that the attachment of ep publishing port left
	// nothing; what others made (keep) stays.
	nothingLeft := func(what string, ep *Endpoint, port uint16, keep ...nft.Port) {
		t.Helper()
		if link.Exists(ep.HostIf) {
			t.Errorf("%s: veth %s left", what, ep.HostIf)
		}
		ps, err := s.Table.Ports()
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != len(keep) || (len(keep) == 1 && ps[0] != keep[0]) {
			t.Errorf("%s: published %v, want %v", what, ps, keep)
		}
		if l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port)); err != nil {
			t.Errorf("%s: host port %d still held: %v", what, port, err)
		} else {
			l.Close()
		}
	}
	publish := func(port uint16) []portspec.Mapping {
		return []portspec.Mapping{{HostPort: port, ContainerPort: 80, Proto: "tcp"}}
	}

	// It works, and Detach undoes it.
	ep, port := endpoint(), free()
	a, err := s.AttachContainer(Request{NetNS: ctr, Endpoints: []*Endpoint{ep}, Publish: publish(port)})
	if err != nil {
		t.Fatal(err)
	}
	if !link.Exists(ep.HostIf) {
		t.Errorf("veth %s missing", ep.HostIf)
	}
	if ps, err := s.Table.Ports(); err != nil || len(ps) != 1 || ps[0].HostPort != port || ps[0].ContainerIP != ep.IP {
		t.Errorf("published %v (%v), want %d -> %s", ps, err, port, ep.IP)
	}
	if l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port)); err == nil {
		l.Close()
		t.Errorf("host port %d not held while attached", port)
	}
	if err := a.Detach(); err != nil {
		t.Fatal(err)
	}
	nothingLeft("detach", ep, port)

	// The second endpoint's network is gone: the first's veth goes.
	ep, port = endpoint(), free()
	gone := &Endpoint{NetworkID: strings.Repeat("f", 64), Network: "gone", IfName: "eth1", HostIf: "vhgone0000001"}
	_, err = s.AttachContainer(Request{NetNS: ctr, Endpoints: []*Endpoint{ep, gone}, Publish: publish(port)})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("veth step: got %v, want the network not found", err)
	}
	nothingLeft("veth step", ep, port)

	// The host port is bound by someone else.
	ep, port = endpoint(), free()
	l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AttachContainer(Request{NetNS: ctr, Endpoints: []*Endpoint{ep}, Publish: publish(port)})
	if !errors.Is(err, ErrPortInUse) {
		t.Errorf("reserve step: got %v, want ErrPortInUse", err)
	}
	l.Close()
	nothingLeft("reserve step", ep, port)

	// The port is in the map already (a killed hutch's), and stays there
	// after the sweep: the nft step fails, and the element is not ours to
	// remove.
	ep, port = endpoint(), free()
	stale := nft.Port{HostPort: port, Proto: "tcp", ContainerIP: netip.MustParseAddr("10.97.0.200"), ContainerPort: 80}
	if err := s.Table.AddPorts([]nft.Port{stale}); err != nil {
		t.Fatal(err)
	}
	swept := 0
	_, err = s.AttachContainer(Request{NetNS: ctr, Endpoints: []*Endpoint{ep}, Publish: publish(port), Sweep: func() { swept++ }})
	if !errors.Is(err, nft.ErrPortPublished) || swept != 1 {
		t.Errorf("nft step: got %v after %d sweeps, want ErrPortPublished after 1", err, swept)
	}
	nothingLeft("nft step", ep, port, stale)
	if err := s.Table.RemovePorts([]nft.Port{stale}); err != nil {
		t.Fatal(err)
	}

	// The registrar fails after everything else was made.
	ep, port = endpoint(), free()
	_, err = s.AttachContainer(Request{NetNS: ctr, Endpoints: []*Endpoint{ep}, Publish: publish(port), DNS: failingDNS{}})
	if err == nil || err.Error() != "dns resolver: no" {
		t.Errorf("dns step: got %v", err)
	}
	nothingLeft("dns step", ep, port)

	// network connect of a running container: a veth that cannot be made
	// (the namespace is no namespace) gives the lease back.
	notNS, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer notNS.Close()
	connecting := strings.Repeat("c", 64)
	if ep, err := s.Connect(n, connecting, 1, netip.Addr{}, nil, notNS); err == nil || ep != nil {
		t.Errorf("connect into /dev/null: got %v, %v", ep, err)
	}
	users, err := s.Users(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u == connecting {
			t.Errorf("connect failed but its lease is held")
		}
	}
	if link.Exists("vh" + connecting[:12] + "1") {
		t.Errorf("connect failed but its veth is left")
	}
	// And into the real namespace it works; Disconnect undoes it.
	ep, err = s.Connect(n, connecting, 1, netip.Addr{}, nil, ctr)
	if err != nil {
		t.Fatal(err)
	}
	if !link.Exists(ep.HostIf) {
		t.Errorf("connected, but veth %s missing", ep.HostIf)
	}
	if err := s.Disconnect(ep, connecting); err != nil {
		t.Fatal(err)
	}
	if users, _ := s.Users(n); link.Exists(ep.HostIf) || len(users) != owner {
		t.Errorf("after disconnect: veth left %v, leases %v (want the %d others)", link.Exists(ep.HostIf), users, owner)
	}
}
