package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/network/portspec"
)

// fakeHost records the steps of an attachment and fails the one named in
// fail (CNI's debugPostIPAMError idea): the rollback of every step is
// checked without a kernel that can be made to fail on demand.
type fakeHost struct {
	log       []string
	fail      string // the step that fails, e.g. "attach eth1"
	undoFails bool   // every undo step fails too
	published int    // "publish" fails with ErrPortPublished this many times
}

func (h *fakeHost) step(name string) error {
	h.log = append(h.log, name)
	if name == h.fail {
		return fmt.Errorf("%s failed", name)
	}
	return nil
}

func (h *fakeHost) undo(name string) error {
	h.log = append(h.log, name)
	if h.undoFails {
		return fmt.Errorf("%s failed", name)
	}
	return nil
}

func (h *fakeHost) attach(e *Endpoint, ns *os.File) error { return h.step("attach " + e.IfName) }
func (h *fakeHost) detach(e *Endpoint) error              { return h.undo("detach " + e.IfName) }

func (h *fakeHost) reserve(ms []portspec.Mapping) (*reservation, error) {
	if err := h.step("reserve"); err != nil {
		return nil, err
	}
	r := &reservation{}
	for _, m := range ms {
		m.HostPort = 32768
		r.Mappings = append(r.Mappings, m)
	}
	return r, nil
}

func (h *fakeHost) publish(ms []portspec.Mapping, ip netip.Addr) error {
	if h.published > 0 {
		h.published--
		h.log = append(h.log, "publish")
		return nft.ErrPortPublished
	}
	return h.step("publish")
}

func (h *fakeHost) unpublish(ms []portspec.Mapping, ip netip.Addr) error {
	return h.undo("unpublish")
}

type fakeDNS struct{ err error }

func (d fakeDNS) Register(ns *os.File) error { return d.err }

func testRequest(h *fakeHost) Request {
	return Request{
		Endpoints: []*Endpoint{{IfName: "eth0", IP: netip.MustParseAddr("10.88.0.2")}, {IfName: "eth1"}},
		Publish:   []portspec.Mapping{{ContainerPort: 80, Proto: "tcp"}},
		Sweep:     func() { h.log = append(h.log, "sweep") },
	}
}

func TestAttachContainerRollback(t *testing.T) {
	all := []string{"attach eth0", "attach eth1", "reserve", "publish"}
	for _, tc := range []struct {
		fail string
		want []string // what ran, undo included
	}{
		{"attach eth0", []string{"attach eth0"}},
		{"attach eth1", []string{"attach eth0", "attach eth1", "detach eth0"}},
		{"reserve", []string{"attach eth0", "attach eth1", "reserve", "detach eth1", "detach eth0"}},
		{"publish", []string{"attach eth0", "attach eth1", "reserve", "publish", "detach eth1", "detach eth0"}},
	} {
		h := &fakeHost{fail: tc.fail}
		a, err := attachContainer(h, testRequest(h))
		if err == nil || !strings.Contains(err.Error(), tc.fail+" failed") || a != nil {
			t.Errorf("%s: got %v, %v; want its error and no attachment", tc.fail, a, err)
		}
		if !reflect.DeepEqual(h.log, tc.want) {
			t.Errorf("%s: ran %q, want %q", tc.fail, h.log, tc.want)
		}
	}

	// The registrar fails after everything else was made: all of it goes.
	h := &fakeHost{}
	req := testRequest(h)
	req.DNS = fakeDNS{errors.New("dns resolver: no")}
	if a, err := attachContainer(h, req); err == nil || err.Error() != "dns resolver: no" || a != nil {
		t.Errorf("dns: got %v, %v", a, err)
	}
	want := append(all[:4:4], "unpublish", "detach eth1", "detach eth0")
	if !reflect.DeepEqual(h.log, want) {
		t.Errorf("dns: ran %q, want %q", h.log, want)
	}

	// Undo steps that fail still all run, and their errors come back joined
	// after the one that caused the rollback.
	h = &fakeHost{fail: "publish", undoFails: true}
	_, err := attachContainer(h, testRequest(h))
	if err == nil || err.Error() != "publish failed\ndetach eth1 failed\ndetach eth0 failed" {
		t.Errorf("failing undo: got %q", err)
	}
}

func TestAttachContainer(t *testing.T) {
	// A port left in the maps by a killed hutch: one sweep, one retry.
	h := &fakeHost{published: 1}
	a, err := attachContainer(h, testRequest(h))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"attach eth0", "attach eth1", "reserve", "publish", "sweep", "publish"}
	if !reflect.DeepEqual(h.log, want) {
		t.Errorf("ran %q, want %q", h.log, want)
	}
	if len(a.Ports) != 1 || a.Ports[0].HostPort != 32768 {
		t.Errorf("ports %v, want the reserved one", a.Ports)
	}
	// Detach undoes it all, last step first, once.
	h.log = nil
	if err := a.Detach(); err != nil {
		t.Fatal(err)
	}
	if err := a.Detach(); err != nil {
		t.Fatal(err)
	}
	want = []string{"unpublish", "detach eth1", "detach eth0"}
	if !reflect.DeepEqual(h.log, want) {
		t.Errorf("detach ran %q, want %q", h.log, want)
	}

	// Still in the maps after the sweep: the port's error, and a rollback.
	h = &fakeHost{published: 2}
	if _, err := attachContainer(h, testRequest(h)); !errors.Is(err, nft.ErrPortPublished) {
		t.Errorf("published twice: got %v", err)
	}
	want = []string{"attach eth0", "attach eth1", "reserve", "publish", "sweep", "publish", "detach eth1", "detach eth0"}
	if !reflect.DeepEqual(h.log, want) {
		t.Errorf("published twice: ran %q, want %q", h.log, want)
	}

	// No endpoints (--network none, host, container:): nothing to do.
	h = &fakeHost{}
	if a, err := attachContainer(h, Request{}); err != nil || a.Detach() != nil || len(h.log) != 0 {
		t.Errorf("no endpoints: %v, ran %q", err, h.log)
	}
}

// reserve against the real kernel (loopback only): a port taken fails the
// reservation with ErrPortInUse, and the ports it had bound by then are let
// go at once.
func TestReserveRollback(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	free, err := reserve([]portspec.Mapping{{HostIP: lo, ContainerPort: 2, Proto: "udp"}})
	if err != nil {
		t.Fatal(err)
	}
	first := free.Mappings[0] // a udp port that was free a moment ago
	free.Close()
	taken, err := reserve([]portspec.Mapping{{HostIP: lo, ContainerPort: 1, Proto: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	second := portspec.Mapping{HostIP: lo, HostPort: taken.Mappings[0].HostPort, ContainerPort: 3, Proto: "tcp"}
	if r, err := reserve([]portspec.Mapping{first, second}); !errors.Is(err, ErrPortInUse) || r != nil {
		t.Fatalf("got %v, %v; want ErrPortInUse", r, err)
	}
	again, err := reserve([]portspec.Mapping{first}) // fails if the first bind was kept
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

// Prepare with a host port taken (a real bind on loopback): the error, and
// the lease it had taken is given back.
func TestPrepareRollback(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := &Network{ID: strings.Repeat("e", 64), Name: "prep", Subnet: netip.MustParsePrefix("10.99.0.0/24"),
		Gateway: netip.MustParseAddr("10.99.0.1")}
	if err := os.MkdirAll(filepath.Join(s.netDir(n.ID), "leases"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.netDir(n.ID), "network.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	taken, err := reserve([]portspec.Mapping{{HostIP: lo, ContainerPort: 1, Proto: "tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	owner := strings.Repeat("1", 64)
	publish := []portspec.Mapping{{HostIP: lo, HostPort: taken.Mappings[0].HostPort, ContainerPort: 80, Proto: "tcp"}}
	if ep, err := s.Prepare(n, owner, netip.Addr{}, nil, publish); !errors.Is(err, ErrPortInUse) || ep != nil {
		t.Fatalf("port taken: got %v, %v; want ErrPortInUse", ep, err)
	}
	if users, err := s.Users(n); err != nil || len(users) != 0 {
		t.Errorf("after the failed prepare: leases held by %v (%v)", users, err)
	}
	ep, err := s.Prepare(n, owner, netip.Addr{}, []string{"web"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if users, _ := s.Users(n); len(users) != 1 || users[0] != owner || !n.Subnet.Contains(ep.IP) || ep.IP == n.Gateway || ep.IfName != "eth0" {
		t.Errorf("prepared %+v, leases %v", ep, users)
	}
}
