package topology

import (
	"fmt"
	"os"
	"strconv"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/link"
	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/runtime/procstart"
)

// Live is the Kernel of this host: netlink in hutch's namespace and, for a
// container, a netlink socket opened in its namespace (NewHandleAt: a
// locked thread enters it only to open the socket, and comes back). It
// only reads.
type Live struct {
	Table nft.Table
}

var _ Kernel = Live{}

func (Live) HostLinks() ([]Link, error) { return link.List(nil) }

func (k Live) ReadTable() ([]nft.Rule, []nft.Port, error) {
	rs, err := k.Table.Ruleset()
	if err != nil {
		return nil, nil, err
	}
	ports, err := rs.Ports()
	return rs.Rules(), ports, err
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
	ls, err := link.List(h)
	if err != nil {
		return nil, err
	}
	ns := &Namespace{ID: fmt.Sprintf("net:[%d]", st.Ino), Links: ls}
	if d, ok, err := nft.ReadDNSRedirect(int(f.Fd())); err == nil && ok {
		ns.DNS = &d
	}
	return ns, nil
}
