package topology

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// Live is the Kernel of this host: netlink in hutch's namespace and, for a
// container, a netlink socket opened in its namespace (NewHandleAt: no
// thread of ours ever enters it). It only reads.
type Live struct {
	Table nft.Table
}

var _ Kernel = Live{}

func (Live) HostLinks() ([]Link, error) { return readLinks(nil) }

func (k Live) Rules() ([]nft.Rule, error) { return k.Table.Rules() }

func (k Live) Ports() ([]nft.Port, error) {
	ok, err := k.Table.Exists()
	if err != nil || !ok {
		return nil, err
	}
	return k.Table.Ports()
}

func (Live) Namespace(pid int, start uint64) (*Namespace, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("open network namespace of process %d: %w", pid, err)
	}
	defer f.Close()
	if start == 0 || procstart.Of(pid) != start { // opened after the check: not a reused pid
		return nil, fmt.Errorf("process %d is gone", pid)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat network namespace of process %d: %w", pid, err)
	}
	h, err := netlink.NewHandleAt(netns.NsHandle(f.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink in the namespace: %w", err)
	}
	defer h.Close()
	ls, err := readLinks(h)
	if err != nil {
		return nil, err
	}
	ns := &Namespace{ID: fmt.Sprintf("net:[%d]", st.Ino), Links: ls}
	if d, ok, err := nft.ReadDNSRedirect(int(f.Fd())); err == nil && ok {
		ns.DNS = &d
	}
	return ns, nil
}

// readLinks lists the links and their IPv4 addresses through h (nil: the
// calling thread's namespace). A dump interrupted by a link coming or going
// is tried again.
func readLinks(h *netlink.Handle) ([]Link, error) {
	if h == nil {
		h = &netlink.Handle{}
	}
	links, err := h.LinkList()
	for try := 0; errors.Is(err, netlink.ErrDumpInterrupted) && try < 3; try++ {
		links, err = h.LinkList()
	}
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	for try := 0; errors.Is(err, netlink.ErrDumpInterrupted) && try < 3; try++ {
		addrs, err = h.AddrList(nil, netlink.FAMILY_V4)
	}
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var out []Link
	for _, l := range links {
		a := l.Attrs()
		out = append(out, Link{Index: a.Index, Name: a.Name, Kind: l.Type(), Master: a.MasterIndex,
			PeerIndex: a.ParentIndex, Up: a.Flags&net.FlagUp != 0, MAC: a.HardwareAddr.String()})
	}
	for _, ad := range addrs {
		p, ok := prefixOf(ad.IPNet)
		if !ok {
			continue
		}
		for i := range out {
			if out[i].Index == ad.LinkIndex {
				out[i].Addrs = append(out[i].Addrs, p)
			}
		}
	}
	return out, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a, ones), true
}
