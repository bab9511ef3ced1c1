// Package link makes and removes the kernel's network devices for hutch:
// one Linux bridge per network, and a veth pair per container endpoint whose
// inner end is created directly inside the container's network namespace.
// Everything goes over netlink (vishvananda/netlink); no `ip` subprocesses.
package link

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// EnsureBridge makes the bridge name with address gw (the gateway, with the
// subnet's prefix length) unless it exists, and brings it up. It reports
// whether it made it. The bridge forwards for its containers, and accepts
// 127.0.0.0/8 sources so that a port published on 127.0.0.1 can be DNATed
// to a container (route_localnet).
func EnsureBridge(name string, gw netip.Prefix) (created bool, err error) {
	if _, err := netlink.LinkByName(name); err == nil {
		return false, nil
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: randomMAC()}}
	// A fixed MAC: otherwise the bridge takes the lowest MAC of its ports,
	// which changes as containers come and go and breaks their ARP caches.
	if err := netlink.LinkAdd(br); err != nil {
		if errors.Is(err, unix.EEXIST) { // a parallel hutch made it
			return false, nil
		}
		return false, fmt.Errorf("create bridge %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			netlink.LinkDel(br)
		}
	}()
	addr := &netlink.Addr{IPNet: ipNet(gw)}
	if err := netlink.AddrAdd(br, addr); err != nil {
		return false, fmt.Errorf("address bridge %s: %w", name, err)
	}
	if err := setSysctl("net/ipv4/conf/"+name+"/route_localnet", "1"); err != nil {
		return false, err
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return false, fmt.Errorf("bring up bridge %s: %w", name, err)
	}
	// Published ports and outbound traffic are routed through the host.
	if err := setSysctl("net/ipv4/ip_forward", "1"); err != nil {
		return false, err
	}
	return true, nil
}

// Delete removes a device by name; one that is gone already is fine.
func Delete(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// BridgePorts lists the devices enslaved to each of bridges that exist,
// by bridge name, from one dump of the host's links.
//
// Links that come and go during the dump interrupt it; it is tried again,
// and a dump still interrupted after that is used as it is: a caller that
// removes what it finds only removes less.
func BridgePorts(bridges []string) (map[string][]string, error) {
	links, err := netlink.LinkList()
	for try := 0; errors.Is(err, netlink.ErrDumpInterrupted) && try < 3; try++ {
		links, err = netlink.LinkList()
	}
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("list links: %w", err)
	}
	byIndex := map[int]string{}
	for _, l := range links {
		for _, b := range bridges {
			if l.Attrs().Name == b {
				byIndex[l.Attrs().Index] = b
			}
		}
	}
	ports := map[string][]string{}
	for _, l := range links {
		if b, ok := byIndex[l.Attrs().MasterIndex]; ok && l.Attrs().MasterIndex != 0 {
			ports[b] = append(ports[b], l.Attrs().Name)
		}
	}
	return ports, nil
}

// Info is one interface of a namespace as netlink lists it.
type Info struct {
	Index     int
	Name      string
	Kind      string // bridge, veth, ...
	Master    int    // the index of its bridge, 0 if none
	PeerIndex int    // a veth's peer's index in the other namespace (IFLA_LINK)
	Up        bool
	MAC       string
	Addrs     []netip.Prefix // its IPv4 addresses
}

// List lists the links and their IPv4 addresses through h (nil: the
// calling thread's namespace), in two dumps. A dump interrupted by a link
// coming or going is tried again.
func List(h *netlink.Handle) ([]Info, error) {
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
	var out []Info
	for _, l := range links {
		a := l.Attrs()
		out = append(out, Info{Index: a.Index, Name: a.Name, Kind: l.Type(), Master: a.MasterIndex,
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

// Exists reports whether a device named name exists in the host namespace.
func Exists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// Veth is one container endpoint: a veth pair with HostName on the bridge
// and IfName inside the namespace NetNS (an open /proc/PID/ns/net).
type Veth struct {
	HostName     string
	Bridge       string
	NetNS        *os.File
	IfName       string       // eth0, eth1, ...
	Addr         netip.Prefix // the container's address and the subnet's length
	Gateway      netip.Addr
	DefaultRoute bool   // the first endpoint routes everything through its gateway
	MAC          string // the inner end's address; "": derived from Addr
}

// AddVeth creates and configures the pair; on error nothing is left.
func AddVeth(v Veth) (err error) {
	br, err := netlink.LinkByName(v.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", v.Bridge, err)
	}
	mac := MACFor(v.Addr.Addr())
	if v.MAC != "" {
		if mac, err = net.ParseMAC(v.MAC); err != nil {
			return fmt.Errorf("veth %s: %w", v.HostName, err)
		}
	}
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: v.HostName, MasterIndex: br.Attrs().Index, Flags: net.FlagUp},
		PeerName:  v.IfName,
		// Derived from the address, as Docker does: a reused address keeps
		// its MAC, so neighbours' ARP caches stay right.
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(v.NetNS.Fd()),
	}
	err = netlink.LinkAdd(veth)
	if errors.Is(err, unix.EEXIST) {
		// The last run's pair, not yet gone with its namespace (the kernel
		// destroys namespaces asynchronously): take it away now.
		if err = Delete(v.HostName); err == nil {
			err = netlink.LinkAdd(veth)
		}
	}
	if err != nil {
		return fmt.Errorf("create veth %s: %w", v.HostName, err)
	}
	defer func() {
		if err != nil {
			netlink.LinkDel(veth) // takes the inner end with it
		}
	}()
	// With br_netfilter loaded, a container reaching its own published port
	// is DNATed back out of the port it came in on: allow that.
	if err := netlink.LinkSetHairpin(veth, true); err != nil {
		return fmt.Errorf("hairpin %s: %w", v.HostName, err)
	}
	h, err := netlink.NewHandleAt(netns.NsHandle(v.NetNS.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in container: %w", err)
	}
	defer h.Close()
	inner, err := h.LinkByName(v.IfName)
	if err != nil {
		return fmt.Errorf("find %s in container: %w", v.IfName, err)
	}
	if err := h.AddrAdd(inner, &netlink.Addr{IPNet: ipNet(v.Addr)}); err != nil {
		return fmt.Errorf("address %s: %w", v.IfName, err)
	}
	if err := h.LinkSetUp(inner); err != nil {
		return fmt.Errorf("bring up %s: %w", v.IfName, err)
	}
	if !v.DefaultRoute {
		return nil
	}
	gw := v.Gateway.AsSlice()
	if err := h.RouteAdd(&netlink.Route{LinkIndex: inner.Attrs().Index, Gw: gw}); err != nil {
		return fmt.Errorf("default route: %w", err)
	}
	return nil
}

// LoopbackUp brings up lo in the calling thread's network namespace, with
// an ioctl: cheaper than a netlink socket, and enough for one flag. It sets
// the flag even when lo reads as up already: another process (the
// container's init) may be bringing it up right now, and the flag shows
// before the kernel has given lo 127.0.0.1/8. The set waits for the RTNL
// lock, which that change holds until lo has its address, so when it
// returns, loopback addresses can be bound.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err == nil {
		err = unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr)
	}
	if err == nil {
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		err = unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
	}
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	return nil
}

// DeleteIn removes the interface name inside namespace ns (its veth peer
// on the host goes with it); one that is gone already is fine.
func DeleteIn(ns *os.File, name string) error {
	h, err := netlink.NewHandleAt(netns.NsHandle(ns.Fd()), unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in container: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return nil
	}
	return h.LinkDel(l)
}

// HostPrefixes lists the host's IPv4 addresses (as their subnets) and routes,
// except the default route: a new network must overlap none of them.
func HostPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok {
			out = append(out, p.Masked())
		}
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if p, ok := prefixOf(r.Dst); ok && p.Bits() > 0 {
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

// MACFor is Docker's scheme: 02:42 and the four bytes of the address.
func MACFor(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

func randomMAC() net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	rand.Read(m)
	m[0] = m[0]&0xfe | 0x02 // unicast, locally administered
	return m
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
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

func setSysctl(name, value string) error {
	p := "/proc/sys/" + name
	if cur, err := os.ReadFile(p); err == nil && string(cur) == value+"\n" {
		return nil
	}
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s: %w", name, err)
	}
	return nil
}
