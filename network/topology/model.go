// Package topology reads the live network topology of one hutch instance
// from the kernel (netlink links and addresses on the host and in each
// container's network namespace, the nftables table with its rules and
// published-port maps) into a model, and draws it (render.go, dot.go,
// svg.go). hutch's records are joined in only to name what the kernel holds
// and to find where the two disagree: a veth recorded but missing, a map
// element no container publishes, a bridge with no record, an address that
// differs. What is drawn is what the kernel does.
//
// Build is pure: it takes what it reads through the Kernel interface and the
// records as plain data, so a test can feed it a fixed topology. The reader
// of the real kernel is kernel_linux.go.
package topology

import (
	"net/netip"

	"github.com/hutchrt/hutch/network/link"
	"github.com/hutchrt/hutch/network/nft"
)

// Marks say how the kernel and the records disagree about one thing. They
// are words, so a drawing without colour shows them too.
const (
	Missing    = "MISSING"    // recorded, not in the kernel
	Stale      = "STALE"      // in the kernel, nothing recorded owns it
	Unrecorded = "UNRECORDED" // a bridge the table has rules for, with no network record
	Differs    = "DIFFERS"    // both have it, not alike
)

// Topology is one hutch instance's networking as the kernel holds it.
type Topology struct {
	Table    string     `json:"table"` // the nftables table, as `nft list table ip NAME`
	Networks []*Network `json:"networks"`
	Ports    []*Port    `json:"ports"`    // published ports: the DNAT maps' elements
	Publish  []nft.Rule `json:"publish"`  // how packets reach the maps (prerouting, output, publish)
	Guard    []nft.Rule `json:"guard"`    // the table's base rules of forward and raw_prerouting
	Loopback []nft.Rule `json:"loopback"` // postrouting's masquerade of DNATed 127.0.0.1
	Resolver Resolver   `json:"resolver"`
	// Running containers on the host's own stack (--network host), by name.
	HostNetwork []string  `json:"hostNetwork"`
	Problems    []Problem `json:"problems"` // every mark, as a list
}

// Network is one bridge network.
type Network struct {
	Name     string `json:"name"` // "" for a bridge with no record
	ID       string `json:"id,omitempty"`
	Bridge   string `json:"bridge"`
	Subnet   string `json:"subnet,omitempty"`
	Gateway  string `json:"gateway,omitempty"` // the bridge's address, as the kernel has it (ADDR/LEN)
	Internal bool   `json:"internal"`
	Up       bool   `json:"up"`
	// The bridge's ports as the kernel lists them; each container's wire is
	// one of them, the others are Stale.
	Ports      []string     `json:"bridgePorts"`
	Containers []*Container `json:"containers"`
	Masquerade []nft.Rule   `json:"masquerade"` // postrouting rules tagged with the bridge
	Isolation  []nft.Rule   `json:"isolation"`  // isolate, internal and outbound rules tagged with it
	Names      []Name       `json:"names"`      // what the embedded resolver answers on it
	Mark       string       `json:"mark,omitempty"`
	Note       string       `json:"note,omitempty"`
}

// Container is one running container's place on one network.
type Container struct {
	Name  string           `json:"name"`
	ID    string           `json:"id"`
	Pid   int              `json:"pid"`
	NetNS string           `json:"netns"` // net:[INODE], as /proc/PID/ns/net reads
	If    *Interface       `json:"interface"`
	DNS   *nft.DNSRedirect `json:"dns,omitempty"` // its hutch-dns table
	// Containers in the same namespace (--network container:THIS), by name.
	Sharing []string `json:"sharing,omitempty"`
	Mark    string   `json:"mark,omitempty"`
	Note    string   `json:"note,omitempty"`
}

// Interface is a container's end of a veth pair and the host's end.
type Interface struct {
	Name  string   `json:"name"` // eth0, eth1...
	Addrs []string `json:"addrs"`
	MAC   string   `json:"mac,omitempty"`
	Peer  string   `json:"peer"` // the host end, as `ip link` names it
	Mark  string   `json:"mark,omitempty"`
	Note  string   `json:"note,omitempty"`
}

// Port is one published port: an element of publish_any or publish_addr.
type Port struct {
	Proto         string `json:"proto"`
	HostIP        string `json:"hostIp"` // 0.0.0.0: every host address (publish_any)
	HostPort      uint16 `json:"hostPort"`
	Map           string `json:"map"`
	ContainerIP   string `json:"containerIp"`
	ContainerPort uint16 `json:"containerPort"`
	Container     string `json:"container,omitempty"` // by the records; "" if none
	Network       string `json:"network,omitempty"`
	Mark          string `json:"mark,omitempty"`
	Note          string `json:"note,omitempty"`
}

// Name is one address the resolver answers for, with every name it has.
type Name struct {
	IP    string   `json:"ip"`
	Names []string `json:"names"`
}

// Resolver is the embedded DNS: where containers ask, and where the names
// come from.
type Resolver struct {
	Address string `json:"address"`
	Source  string `json:"source"`
}

// Problem is one disagreement between the kernel and the records.
type Problem struct {
	Mark string `json:"mark"`
	What string `json:"what"`
	// The bridge of the network it is about, "" if none.
	Bridge string `json:"bridge,omitempty"`
}

// Records is what hutch's records say, for naming and comparing.
type Records struct {
	Table      string
	Networks   []RecNetwork
	Containers []RecContainer // those that run, with their endpoints
	// The resolver's registrations (nil: none could be read; Names then
	// come from the containers' records).
	DNS       []Registration
	DNSSource string
	// Running containers without a namespace of their own: on the host's
	// (--network host), and in another container's (by its id).
	HostNetwork []string
	Joined      map[string][]string
}

// RecNetwork is a network record.
type RecNetwork struct {
	Name, ID, Bridge string
	Subnet           netip.Prefix
	Gateway          netip.Addr
	Internal         bool
}

// RecContainer is a running container's record.
type RecContainer struct {
	Name, ID  string
	Pid       int
	PidStart  uint64
	Endpoints []RecEndpoint
	Ports     []nft.Port // what it publishes now, as map elements
}

// RecEndpoint is a container's recorded place on one network.
type RecEndpoint struct {
	Network string // name
	IfName  string
	HostIf  string
	Addr    netip.Prefix
	Names   []string // the names it answers to there (records' view)
}

// Registration is one container's registration with the resolver.
type Registration struct {
	ID      string
	Entries []Entry
}

// Entry is one network of a registration.
type Entry struct {
	Network string
	IP      netip.Addr
	Names   []string
}

// Kernel is what Build reads.
type Kernel interface {
	// HostLinks lists the host namespace's links.
	HostLinks() ([]Link, error)
	// Namespace reads the network namespace of process pid (started at
	// start, so that a reused pid is not taken for it).
	Namespace(pid int, start uint64) (*Namespace, error)
	// ReadTable lists the rules of the table and the elements of its maps,
	// from one reading of it.
	ReadTable() ([]nft.Rule, []nft.Port, error)
}

// Link is one network device.
type Link = link.Info

// Namespace is a container's network namespace.
type Namespace struct {
	ID    string // net:[INODE]
	Links []Link
	DNS   *nft.DNSRedirect
}
