package ipam

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func newLeases(t *testing.T, subnet, gateway string) *Leases {
	t.Helper()
	l := &Leases{Dir: t.TempDir(), Subnet: netip.MustParsePrefix(subnet)}
	if gateway != "" {
		l.Gateway = netip.MustParseAddr(gateway)
	}
	return l
}

// allocateAll allocates until the subnet is exhausted and returns the addresses in order.
func allocateAll(t *testing.T, l *Leases, owner string) []string {
	t.Helper()
	var got []string
	for {
		addr, err := l.Allocate(owner)
		if errors.Is(err, ErrNoFreeAddress) {
			return got
		}
		if err != nil {
			t.Fatalf("Allocate(%q) error = %v", owner, err)
		}
		got = append(got, addr.String())
		if len(got) > 1<<16 {
			t.Fatal("Allocate never ran out")
		}
	}
}

func TestAllocateSequence(t *testing.T) {
	tests := []struct {
		subnet, gateway string
		want            []string // every allocation until ErrNoFreeAddress
	}{
		{"10.0.0.0/29", "10.0.0.1", []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}},
		{"10.0.0.0/29", "10.0.0.3", []string{"10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"}},
		{"10.0.0.0/29", "10.0.0.6", []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}},
		{"10.0.0.0/29", "", []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}},
		{"10.0.0.0/30", "10.0.0.1", []string{"10.0.0.2"}},
		{"10.0.0.0/30", "", []string{"10.0.0.1", "10.0.0.2"}},
		{"10.0.0.0/31", "", nil},
		{"10.0.0.0/32", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.subnet+"-gw"+tt.gateway, func(t *testing.T) {
			l := newLeases(t, tt.subnet, tt.gateway)
			if got := allocateAll(t, l, "c1"); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("allocations = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAllocateFirstOfSlash24(t *testing.T) {
	l := newLeases(t, "172.19.0.0/24", "172.19.0.1")
	for i, want := range []string{"172.19.0.2", "172.19.0.3", "172.19.0.4"} {
		owner := fmt.Sprintf("c%d", i)
		got, err := l.Allocate(owner)
		if err != nil || got.String() != want {
			t.Fatalf("Allocate(%s) = %v, %v, want %s", owner, got, err, want)
		}
		b, err := os.ReadFile(filepath.Join(l.Dir, want))
		if err != nil || string(b) != owner {
			t.Errorf("lease file %s = %q, %v, want %q", want, b, err, owner)
		}
		// 0644 less the umask
		if fi, err := os.Stat(filepath.Join(l.Dir, want)); err != nil || fi.Mode().Perm()&^0o644 != 0 || fi.Mode().Perm()&0o600 != 0o600 {
			t.Errorf("lease file %s mode = %v, %v, want 0644", want, fi.Mode(), err)
		}
	}
	allocateAll(t, l, "rest")
	if n := count(t, l); n != 253 {
		t.Errorf("%d leases in a /24 with a gateway, want 253", n)
	}
}

func TestAllocateWrapsAround(t *testing.T) {
	l := newLeases(t, "10.0.0.0/29", "10.0.0.1")
	allocateAll(t, l, "c1")
	release(t, l, "10.0.0.3", "c1")
	mustAllocate(t, l, "c2", "10.0.0.3") // wrapped past the broadcast, skipped the gateway and .2
	release(t, l, "10.0.0.2", "c1")
	release(t, l, "10.0.0.5", "c1")
	mustAllocate(t, l, "c3", "10.0.0.5") // continues after .3, not from the start
	mustAllocate(t, l, "c4", "10.0.0.2")
	if _, err := l.Allocate("c5"); !errors.Is(err, ErrNoFreeAddress) {
		t.Errorf("Allocate on a full subnet error = %v, want ErrNoFreeAddress", err)
	}
}

func TestAllocateDoesNotReuseAtOnce(t *testing.T) {
	l := newLeases(t, "10.0.0.0/24", "10.0.0.1")
	mustAllocate(t, l, "c1", "10.0.0.2")
	release(t, l, "10.0.0.2", "c1")
	mustAllocate(t, l, "c2", "10.0.0.3")
}

func TestAllocateHint(t *testing.T) {
	l := newLeases(t, "10.0.0.0/16", "10.0.0.1")
	hint := filepath.Join(l.Dir, hintFile)
	tests := []struct{ hint, want string }{
		{"10.0.7.9", "10.0.7.9"},
		{"10.0.7.9\n", "10.0.7.10"}, // .9 is taken now: the next one
		{"", "10.0.0.2"},
		{"garbage", "10.0.0.3"},
		{"10.0.", "10.0.0.4"},
		{"10.1.0.5", "10.0.0.5"},     // another subnet's address
		{"10.0.0.0", "10.0.0.6"},     // the network address
		{"10.0.255.255", "10.0.0.7"}, // the broadcast address
		{"fd00::1", "10.0.0.8"},
		{"10.0.0.1", "10.0.0.9"}, // the gateway: skipped
	}
	for _, tt := range tests {
		if err := os.WriteFile(hint, []byte(tt.hint), 0o644); err != nil {
			t.Fatal(err)
		}
		mustAllocate(t, l, "c", tt.want)
	}
	// Without a hint file at all, allocation is still correct.
	if err := os.Remove(hint); err != nil {
		t.Fatal(err)
	}
	mustAllocate(t, l, "c", "10.0.0.10")
	if b, err := os.ReadFile(hint); err != nil || strings.TrimSpace(string(b)) != "10.0.0.11" {
		t.Errorf("hint after allocating 10.0.0.10 = %q, %v, want 10.0.0.11", b, err)
	}
}

func TestAllocateLastAddressWrapsHint(t *testing.T) {
	l := newLeases(t, "10.0.0.0/29", "10.0.0.1")
	if err := os.WriteFile(filepath.Join(l.Dir, hintFile), []byte("10.0.0.6"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustAllocate(t, l, "c", "10.0.0.6")
	mustAllocate(t, l, "c", "10.0.0.2")
}

func TestAllocateSkipsEmptyLeaseFile(t *testing.T) {
	l := newLeases(t, "10.0.0.0/24", "10.0.0.1")
	if err := os.WriteFile(filepath.Join(l.Dir, "10.0.0.2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mustAllocate(t, l, "c1", "10.0.0.3")
	leases, err := l.List()
	if owner, ok := leases[netip.MustParseAddr("10.0.0.2")]; err != nil || !ok || owner != "" {
		t.Errorf("List()[10.0.0.2] = %q, %v (err %v), want taken by an unknown owner", owner, ok, err)
	}
	err = l.Reserve(netip.MustParseAddr("10.0.0.2"), "c2")
	if !errors.Is(err, ErrAddressInUse) || !strings.Contains(err.Error(), "unknown owner") {
		t.Errorf("Reserve(10.0.0.2) error = %v, want ErrAddressInUse by an unknown owner", err)
	}
}

func TestMissingDir(t *testing.T) {
	l := newLeases(t, "10.0.0.0/24", "10.0.0.1")
	l.Dir = filepath.Join(l.Dir, "gone")
	if _, err := l.Allocate("c1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Allocate in a missing dir error = %v, want fs.ErrNotExist", err)
	}
	if err := l.Reserve(netip.MustParseAddr("10.0.0.9"), "c1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Reserve in a missing dir error = %v, want fs.ErrNotExist", err)
	}
	if _, err := l.List(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of a missing dir error = %v, want fs.ErrNotExist", err)
	}
	if err := l.Release(netip.MustParseAddr("10.0.0.9"), "c1"); err != nil {
		t.Errorf("Release in a missing dir error = %v, want nil", err)
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Dir was created: %v", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	l := newLeases(t, "10.0.0.0/24", "10.0.0.1")
	for _, owner := range []string{"", " c1", "c1\n", "a\nb"} {
		if _, err := l.Allocate(owner); err == nil || !strings.Contains(err.Error(), "invalid owner") {
			t.Errorf("Allocate(%q) error = %v, want invalid owner", owner, err)
		}
		if err := l.Reserve(netip.MustParseAddr("10.0.0.5"), owner); err == nil {
			t.Errorf("Reserve(10.0.0.5, %q) succeeded, want invalid owner", owner)
		}
	}
	for _, subnet := range []netip.Prefix{{}, netip.MustParsePrefix("fd00::/64")} {
		l := &Leases{Dir: t.TempDir(), Subnet: subnet}
		if _, err := l.Allocate("c1"); err == nil || !strings.Contains(err.Error(), "not an IPv4 subnet") {
			t.Errorf("Allocate in subnet %v error = %v, want not an IPv4 subnet", subnet, err)
		}
	}
}

func TestReserve(t *testing.T) {
	l := newLeases(t, "10.0.0.0/24", "10.0.0.1")
	if err := l.Reserve(netip.MustParseAddr("10.0.0.7"), "holder"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr, owner string
		is          error  // nil: no sentinel
		wantErr     string // "" with is == nil: success
	}{
		{addr: "10.0.0.8", owner: "c1"},
		{addr: "10.0.0.8", owner: "c1"}, // again, same owner: fine
		{addr: "10.0.0.7", owner: "holder"},
		{addr: "::ffff:10.0.0.9", owner: "c1"},
		{addr: "10.0.0.7", owner: "c1", is: ErrAddressInUse, wantErr: "reserve 10.0.0.7: address already in use by holder"},
		{addr: "10.0.0.8", owner: "c2", is: ErrAddressInUse, wantErr: "10.0.0.8: address already in use by c1"},
		{addr: "10.0.0.1", owner: "c1", is: ErrAddressInUse, wantErr: "by the gateway"},
		{addr: "10.0.1.1", owner: "c1", is: ErrOutsideSubnet, wantErr: "reserve 10.0.1.1: address outside the subnet 10.0.0.0/24"},
		{addr: "fd00::1", owner: "c1", is: ErrOutsideSubnet},
		{addr: "10.0.0.0", owner: "c1", wantErr: "reserve 10.0.0.0: it is the network address of 10.0.0.0/24"},
		{addr: "10.0.0.255", owner: "c1", wantErr: "it is the broadcast address"},
	}
	for _, tt := range tests {
		err := l.Reserve(netip.MustParseAddr(tt.addr), tt.owner)
		if tt.is == nil && tt.wantErr == "" {
			if err != nil {
				t.Errorf("Reserve(%s, %s) error = %v", tt.addr, tt.owner, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("Reserve(%s, %s) error = %v, want %v %q", tt.addr, tt.owner, err, tt.is, tt.wantErr)
		}
	}
	// Allocate goes around reserved addresses.
	if err := l.Reserve(netip.MustParseAddr("10.0.0.2"), "pinned"); err != nil {
		t.Fatal(err)
	}
	mustAllocate(t, l, "c3", "10.0.0.3")
	wantOwned(t, l, "c1", "10.0.0.8", "10.0.0.9")
	wantOwned(t, l, "holder", "10.0.0.7")
}

func TestRelease(t *testing.T) {
	l := newLeases(t, "10.0.0.0/24", "10.0.0.1")
	a := mustAllocate(t, l, "c1", "10.0.0.2")
	mustAllocate(t, l, "c1", "10.0.0.3")
	mustAllocate(t, l, "c2", "10.0.0.4")

	if err := l.Release(a, "c2"); err != nil { // not c2's: left alone
		t.Errorf("Release(%s, c2) error = %v", a, err)
	}
	wantOwned(t, l, "c1", "10.0.0.2", "10.0.0.3")
	if err := l.Release(a, "c1"); err != nil {
		t.Fatal(err)
	}
	wantOwned(t, l, "c1", "10.0.0.3")
	if err := l.Release(a, "c1"); err != nil { // already gone: fine
		t.Errorf("second Release(%s, c1) error = %v", a, err)
	}
	if err := l.Release(netip.MustParseAddr("10.0.9.9"), "c1"); err != nil {
		t.Errorf("Release of a never-leased address error = %v", err)
	}
	if err := os.WriteFile(filepath.Join(l.Dir, "10.0.0.9"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(netip.MustParseAddr("10.0.0.9"), "c1"); err != nil {
		t.Errorf("Release of a lease still being written error = %v", err)
	}
	if _, err := os.Stat(filepath.Join(l.Dir, "10.0.0.9")); err != nil {
		t.Errorf("Release removed a lease of unknown owner: %v", err)
	}
	wantOwned(t, l, "c2", "10.0.0.4")
	wantOwned(t, l, "nobody")
}

// A teardown that runs twice at once (say, the monitor and `rm -f`) must not
// remove a lease someone else took in between.
func TestReleaseTwiceConcurrently(t *testing.T) {
	l := newLeases(t, "10.0.0.0/24", "10.0.0.1")
	addr := netip.MustParseAddr("10.0.0.5")
	for i := range 200 {
		if err := l.Reserve(addr, "old"); err != nil {
			t.Fatal(err)
		}
		newOwner := fmt.Sprintf("new%d", i)
		var reserved error
		var wg sync.WaitGroup
		wg.Go(func() { l.Release(addr, "old") })
		wg.Go(func() { l.Release(addr, "old") })
		wg.Go(func() {
			for reserved = l.Reserve(addr, newOwner); errors.Is(reserved, ErrAddressInUse); reserved = l.Reserve(addr, newOwner) {
			}
		})
		wg.Wait()
		if reserved != nil {
			t.Fatalf("Reserve(%s, %s) error = %v", addr, newOwner, reserved)
		}
		wantOwned(t, l, newOwner, addr.String())
		release(t, l, addr.String(), newOwner)
	}
}

func TestListIgnoresOtherFiles(t *testing.T) {
	l := newLeases(t, "10.0.0.0/24", "10.0.0.1")
	mustAllocate(t, l, "c1", "10.0.0.2")
	for _, name := range []string{"lock", "10.0.0.x", ".tmp"} {
		if err := os.WriteFile(filepath.Join(l.Dir, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	leases, err := l.List()
	if err != nil || len(leases) != 1 || leases[netip.MustParseAddr("10.0.0.2")] != "c1" {
		t.Errorf("List() = %v, %v, want map[10.0.0.2:c1]", leases, err)
	}
}

func TestAllocateConcurrentGoroutines(t *testing.T) {
	l := newLeases(t, "10.0.0.0/24", "10.0.0.1")
	const workers, each = 30, 5
	got := make([][]netip.Addr, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				addr, err := l.Allocate(fmt.Sprintf("w%d", w))
				if err != nil {
					t.Errorf("worker %d: Allocate error = %v", w, err)
					return
				}
				got[w] = append(got[w], addr)
			}
		})
	}
	wg.Wait()
	leased := map[netip.Addr]string{}
	for w, addrs := range got {
		for _, addr := range addrs {
			claim(t, leased, addr, fmt.Sprintf("w%d", w))
		}
	}
	checkLeases(t, l, leased, workers*each)
}

func TestAllocateConcurrentExhaustion(t *testing.T) {
	l := newLeases(t, "10.0.0.0/27", "10.0.0.1") // 29 addresses for 30 takers
	const workers = 30
	var (
		mu     sync.Mutex
		leased = map[netip.Addr]string{}
		full   int
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("w%d", w)
			addr, err := l.Allocate(owner)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrNoFreeAddress):
				full++
			case err != nil:
				t.Errorf("%s: Allocate error = %v", owner, err)
			default:
				claim(t, leased, addr, owner)
			}
		})
	}
	wg.Wait()
	if full != 1 {
		t.Errorf("%d workers found no free address, want 1", full)
	}
	checkLeases(t, l, leased, 29)
}

// The helper process for TestAllocateConcurrentProcesses: it waits for the
// start file, allocates helperAllocations addresses and prints them.
const (
	helperDirEnv      = "HUTCH_IPAM_TEST_DIR"
	helperOwnerEnv    = "HUTCH_IPAM_TEST_OWNER"
	helperSubnet      = "10.9.0.0/23"
	helperGateway     = "10.9.0.1"
	helperAllocations = 60
)

func TestHelperProcessAllocate(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process for TestAllocateConcurrentProcesses")
	}
	l := &Leases{Dir: dir, Subnet: netip.MustParsePrefix(helperSubnet), Gateway: netip.MustParseAddr(helperGateway)}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "start")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no start file")
		}
	}
	owner := os.Getenv(helperOwnerEnv)
	for range helperAllocations {
		addr, err := l.Allocate(owner)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("leased %s\n", addr)
	}
}

func TestAllocateConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const procs = 6
	dir := t.TempDir()
	type proc struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	ps := make([]*proc, procs)
	for i := range ps {
		p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^TestHelperProcessAllocate$", "-test.count=1")}
		p.cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperOwnerEnv+"=proc"+strconv.Itoa(i))
		p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ps[i] = p
	}
	if err := os.WriteFile(filepath.Join(dir, "start"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	leased := map[netip.Addr]string{}
	for i, p := range ps {
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, p.out.String())
		}
		n := 0
		for sc := bufio.NewScanner(&p.out); sc.Scan(); {
			if s, ok := strings.CutPrefix(sc.Text(), "leased "); ok {
				claim(t, leased, netip.MustParseAddr(s), "proc"+strconv.Itoa(i))
				n++
			}
		}
		if n != helperAllocations {
			t.Errorf("helper %d reported %d leases, want %d", i, n, helperAllocations)
		}
	}
	l := &Leases{Dir: dir, Subnet: netip.MustParsePrefix(helperSubnet), Gateway: netip.MustParseAddr(helperGateway)}
	checkLeases(t, l, leased, procs*helperAllocations)
}

func mustAllocate(t *testing.T, l *Leases, owner, want string) netip.Addr {
	t.Helper()
	got, err := l.Allocate(owner)
	if err != nil || got.String() != want {
		t.Fatalf("Allocate(%s) = %v, %v, want %s", owner, got, err, want)
	}
	return got
}

func release(t *testing.T, l *Leases, addr, owner string) {
	t.Helper()
	if err := l.Release(netip.MustParseAddr(addr), owner); err != nil {
		t.Fatalf("Release(%s, %s) error = %v", addr, owner, err)
	}
}

func wantOwned(t *testing.T, l *Leases, owner string, want ...string) {
	t.Helper()
	got, err := l.Owned(owner)
	if err != nil {
		t.Fatalf("Owned(%s) error = %v", owner, err)
	}
	var s []string
	for _, a := range got {
		s = append(s, a.String())
	}
	if strings.Join(s, " ") != strings.Join(want, " ") {
		t.Errorf("Owned(%s) = %v, want %v", owner, s, want)
	}
}

func count(t *testing.T, l *Leases) int {
	t.Helper()
	leases, err := l.List()
	if err != nil {
		t.Fatal(err)
	}
	return len(leases)
}

// claim records that owner was handed addr, failing if someone else was too.
func claim(t *testing.T, leased map[netip.Addr]string, addr netip.Addr, owner string) {
	t.Helper()
	if prev, ok := leased[addr]; ok {
		t.Errorf("%s handed out twice: to %s and %s", addr, prev, owner)
	}
	leased[addr] = owner
}

// checkLeases compares the lease files with what the allocators reported.
func checkLeases(t *testing.T, l *Leases, leased map[netip.Addr]string, want int) {
	t.Helper()
	if len(leased) != want {
		t.Errorf("%d distinct addresses handed out, want %d", len(leased), want)
	}
	onDisk, err := l.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(onDisk) != len(leased) {
		t.Errorf("%d lease files, want %d", len(onDisk), len(leased))
	}
	for addr, owner := range leased {
		if onDisk[addr] != owner {
			t.Errorf("lease %s owned by %q on disk, handed to %q", addr, onDisk[addr], owner)
		}
		if addr == l.Gateway || !l.Subnet.Contains(addr) || addr == l.Subnet.Addr() {
			t.Errorf("handed out %s: gateway, network or outside %s", addr, l.Subnet)
		}
	}
}
