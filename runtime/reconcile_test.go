package runtime

import (
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/portspec"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// A dead intent is what a killed command leaves; a live one is a command
// still at work, whose leases must stay.
func TestIntents(t *testing.T) {
	s := newTestStore(t)
	live, dead := strings.Repeat("1", 64), strings.Repeat("d", 64)
	done, err := s.beginIntent(live)
	if err != nil {
		t.Fatal(err)
	}
	// An intent of a process that has exited: what a SIGKILL leaves.
	child := exec.Command("true")
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	start := procstart.Of(os.Getpid()) // a start time the dead pid never had
	if err := os.WriteFile(s.intentPath(dead), []byte(strconv.Itoa(child.Process.Pid)+" "+strconv.FormatUint(start, 10)), 0o600); err != nil {
		t.Fatal(err)
	}
	if !s.intentLive(live) || s.intentLive(dead) || s.intentLive(strings.Repeat("0", 64)) {
		t.Errorf("intentLive: live %v, dead %v, missing %v", s.intentLive(live), s.intentLive(dead), s.intentLive(strings.Repeat("0", 64)))
	}
	if got := s.deadIntents(); !slices.Equal(got, []string{dead}) {
		t.Errorf("deadIntents = %v, want [%s]", got, dead[:12])
	}
	if got := s.liveIntents(); !slices.Equal(got, []string{live}) {
		t.Errorf("liveIntents = %v, want [%s]", got, live[:12])
	}
	o := s.owners(nil)
	if !o.Busy(live) || o.Busy(dead) || !o.Busy("") {
		t.Errorf("Busy: live %v, dead %v, anyone %v; want true, false, true", o.Busy(live), o.Busy(dead), o.Busy(""))
	}
	done()
	if s.intentLive(live) || s.owners(nil).Busy("") {
		t.Error("the intent outlives done")
	}
}

// What the records hold, for the network store: every record keeps its
// leases; only a container whose monitor lives keeps veths and ports.
func TestOwners(t *testing.T) {
	s := newTestStore(t)
	ep := func(net, ip, host string) *network.Endpoint {
		return &network.Endpoint{NetworkID: net, IP: netip.MustParseAddr(ip), HostIf: host}
	}
	start := procstart.Of(os.Getpid())
	running := testContainer(strings.Repeat("1", 64), "running")
	running.Endpoints = []*network.Endpoint{ep("n1", "10.1.0.2", "vh1"), ep("n2", "10.2.0.2", "vh2")}
	running.Publish = []portspec.Mapping{{ContainerPort: 80, Proto: "tcp"}}
	running.Ports = []portspec.Mapping{{HostPort: 32768, ContainerPort: 80, Proto: "tcp"}}
	running.MonitorPid, running.MonitorStart, running.BootID = os.Getpid(), start, bootID()
	stopped := testContainer(strings.Repeat("2", 64), "stopped")
	stopped.Endpoints = []*network.Endpoint{ep("n1", "10.1.0.3", "vh3")}
	stopped.Publish = running.Publish
	deadMon := testContainer(strings.Repeat("3", 64), "dead")
	deadMon.Endpoints = []*network.Endpoint{ep("n1", "10.1.0.4", "vh4")}
	deadMon.MonitorPid, deadMon.MonitorStart, deadMon.BootID = os.Getpid(), start+1, bootID()
	none := testContainer(strings.Repeat("4", 64), "none")
	none.MonitorPid, none.MonitorStart, none.BootID = os.Getpid(), start, bootID()

	o := s.owners([]*Container{running, stopped, deadMon, none})
	lease := func(net, ip, owner string) network.Lease {
		return network.Lease{NetworkID: net, IP: netip.MustParseAddr(ip), Owner: owner}
	}
	wantLeases := []network.Lease{lease("n1", "10.1.0.2", running.ID), lease("n2", "10.2.0.2", running.ID),
		lease("n1", "10.1.0.3", stopped.ID), lease("n1", "10.1.0.4", deadMon.ID)}
	if !slices.Equal(o.Leases, wantLeases) {
		t.Errorf("Leases = %v, want %v", o.Leases, wantLeases)
	}
	if len(o.Running) != 1 {
		t.Fatalf("Running = %+v, want the running container only", o.Running)
	}
	r := o.Running[0]
	if r.IP != netip.MustParseAddr("10.1.0.2") || !slices.Equal(r.Veths, []string{"vh1", "vh2"}) ||
		!slices.Equal(r.Publish, append(running.Publish, running.Ports...)) {
		t.Errorf("Running[0] = %+v", r)
	}
	if len(running.Publish) != 1 {
		t.Errorf("owners changed the record's Publish: %v", running.Publish)
	}
}
