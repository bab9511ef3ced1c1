package trace

import (
	"fmt"
	"net/netip"

	"github.com/hutchrt/hutch/network/nft"
)

// Kernel answers the trace's questions. pid 0 is the host's network
// namespace; any other is the network namespace of that process.
type Kernel interface {
	// RouteGet is `ip route get`: the route the kernel picks for q.
	RouteGet(pid int, q RouteQuery) (Route, error)
	// Links lists the interfaces of a namespace with their IPv4 addresses.
	Links(pid int) ([]Link, error)
	// FDB lists the forwarding database of a bridge.
	FDB(bridge string) ([]FDBEntry, error)
	// Ruleset reads the chains, rules and maps of table ip table.
	Ruleset(table string) (*nft.Ruleset, error)
	// AskDNS asks the embedded resolver (127.0.0.11:53) for the A records of
	// name, from inside the network namespace of pid.
	AskDNS(pid int, name string) (DNSAnswer, error)
	// BridgeNetfilter reports whether bridged IPv4 traffic goes through the
	// ip family's hooks (br_netfilter with bridge-nf-call-iptables=1).
	BridgeNetfilter() bool
	// ForwardDrops lists other tables' forward chains with policy drop.
	ForwardDrops(table string) []string
}

// RouteQuery is a route lookup: for a packet to Dst, from Src arriving on
// IIf when given (an input route, as for forwarded packets).
type RouteQuery struct {
	Dst, Src netip.Addr
	IIf      string
}

// Route is the kernel's answer to a RouteQuery.
type Route struct {
	Dev  string
	Gw   netip.Addr // zero: on-link
	Src  netip.Addr // the preferred source
	Type uint32     // unix.RTN_LOCAL, RTN_UNICAST, ...
}

// Link is one interface of a namespace.
type Link struct {
	Index     int
	Name      string
	Kind      string // bridge, veth, ...
	MAC       string
	Master    string // the bridge it is a port of
	PeerIndex int    // a veth's peer's index (in the other namespace)
	Addrs     []netip.Prefix
}

// FDBEntry is one entry of a bridge's forwarding database.
type FDBEntry struct {
	MAC   string
	Port  string
	Local bool // the bridge's own (permanent) address
}

// DNSAnswer is the embedded resolver's answer.
type DNSAnswer struct {
	Rcode string       // NOERROR, NXDOMAIN, ...
	Addrs []netip.Addr // the A records
	Via   string       // how the query got to the resolver (the hutch-dns rule)
}

// Records is what hutch knows, to name things and to find where the kernel
// disagrees with it.
type Records struct {
	Table      string // the instance's nft table
	Networks   []Network
	Containers []Container // running ones
}

// Network is one network's record.
type Network struct {
	Name, Bridge string
	Subnet       netip.Prefix
}

// Container is one running container's record.
type Container struct {
	Name      string
	Pid       int
	Endpoints []Endpoint
	NoDNS     bool // on the default network only: no embedded resolver
}

// Endpoint is a container's place on one network.
type Endpoint struct {
	Network string
	Bridge  string
	IP      netip.Addr
	IfName  string
	HostIf  string
	Aliases []string
}

// From says where the packet starts.
type From struct {
	Host      bool
	Outside   bool
	Container *Container
	Source    netip.Addr // outside: the sender; zero: a neighbour on the interface
}

// Target is where the packet goes: Name is resolved when Addr is not set.
type Target struct {
	Name  string
	Addr  netip.Addr
	Port  uint16
	Proto string // tcp or udp
}

func (t Target) String() string {
	host := t.Name
	if host == "" {
		host = t.Addr.String()
	}
	return fmt.Sprintf("%s:%d/%s", host, t.Port, t.Proto)
}

// Hop is one step of the path.
type Hop struct {
	Kind    string `json:"kind"` // dns, route, arrive, nft, veth, bridge, warning
	Text    string `json:"text"`
	Chain   string `json:"chain,omitempty"`
	Handle  uint64 `json:"handle,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Action  string `json:"action,omitempty"`
	Problem string `json:"problem,omitempty"` // the kernel and hutch's records disagree
}

// Verdict kinds.
const (
	Delivered   = "delivered"   // to a container's address:port
	ToHost      = "host"        // to the host itself
	Dropped     = "dropped"     // by a rule
	NoRoute     = "no-route"    // the route lookup failed
	Unreachable = "unreachable" // nothing on the link has the address
	LeavesHost  = "leaves"      // routed out of the host
	Unknown     = "unknown"     // the trace could not tell
)

// Verdict is the end of the path.
type Verdict struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// Result is a whole trace.
type Result struct {
	From    string  `json:"from"`
	Target  string  `json:"target"`
	Hops    []Hop   `json:"hops"`
	Verdict Verdict `json:"verdict"`
}
