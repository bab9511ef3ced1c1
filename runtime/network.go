package runtime

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hutchrt/hutch/dns"
	"github.com/hutchrt/hutch/dns/resolver"
	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/portspec"
)

// Networks is the network store of this root.
func (s *Store) Networks() (*network.Store, error) { return network.Open(s.Root) }

// netPlan is what Create resolved about a container's networking.
type netPlan struct {
	mode      string // none, host, container:ID, or a network's name
	endpoints []*network.Endpoint
	publish   []portspec.Mapping
	hosts     []byte       // /etc/hosts
	resolv    []byte       // /etc/resolv.conf
	undo      func() error // gives the leases back if Create fails later
	done      func()       // forgets the intent, once the record holds the leases or they are undone
}

// planNetwork checks o's network options and leases the container's
// addresses. On error nothing is held.
// exposed are the ports -P publishes.
func (s *Store) planNetwork(o *RunOptions, exposed []portspec.Mapping, id, hostname string) (p *netPlan, err error) {
	p = &netPlan{mode: o.Network, undo: func() error { return nil }, done: func() {}}
	if p.mode == "" {
		p.mode = network.DefaultName
	}
	if p.publish, err = portspec.ParseAll(o.Publish); err != nil {
		return nil, invalidf("%v", err)
	}
	servers, err := parseDNS(o.DNS)
	if err != nil {
		return nil, err
	}
	extraHosts, err := parseAddHosts(o.AddHosts)
	if err != nil {
		return nil, err
	}
	mac, err := parseMAC(o.MacAddress)
	if err != nil {
		return nil, err
	}
	if err := checkDNSOptions(o.DNSSearch, o.DNSOptions); err != nil {
		return nil, err
	}
	var pinned netip.Addr
	if o.IP != "" {
		if pinned, err = netip.ParseAddr(o.IP); err != nil || !pinned.Is4() {
			return nil, invalidf("--ip %q is not an IPv4 address", o.IP)
		}
	}
	bridged := p.mode != "none" && p.mode != "host" && !strings.HasPrefix(p.mode, "container:")
	if o.PublishAll && bridged { // without a bridge Docker drops -P's ports, as we do
		p.publish = publishAll(p.publish, exposed)
	}
	if !bridged {
		switch {
		case len(p.publish) > 0:
			return nil, invalidf("-p: ports cannot be published with --network %s", p.mode)
		case pinned.IsValid() || len(o.Aliases) > 0:
			return nil, invalidf("--ip and --network-alias need a bridge network, not --network %s", p.mode)
		case mac != nil:
			return nil, invalidf("--mac-address needs a bridge network, not --network %s", p.mode)
		}
		if extraHosts, err = s.hostGatewayOutsideBridge(extraHosts, p.mode); err != nil {
			return nil, err
		}
	}
	if ref, ok := strings.CutPrefix(p.mode, "container:"); ok {
		target, err := s.Get(ref)
		if err != nil {
			return nil, invalidf("--network %s: %v", p.mode, err)
		}
		p.mode = "container:" + target.ID
		// Shared network, shared names: the files come from the target.
		p.hosts, _ = os.ReadFile(s.Dir(target.ID) + "/hosts")
		p.resolv, _ = os.ReadFile(s.Dir(target.ID) + "/resolv.conf")
		return p, nil
	}
	hosts := string(hostsFile(p.mode))
	hostConf := hostResolvConf()
	dnsMode := dns.Private
	if p.mode == "host" {
		dnsMode = dns.Host
	}
	if bridged {
		nets, err := s.Networks()
		if err != nil {
			return nil, err
		}
		n, err := nets.Get(p.mode)
		if errors.Is(err, network.ErrNotFound) {
			return nil, invalidf("network %s not found", shorten(p.mode))
		} else if err != nil {
			return nil, err
		}
		p.mode = n.Name
		if n.UserDefined() {
			dnsMode = dns.Embedded
		}
		// Recorded before the lease: if this process dies before the
		// record holds it, the next command gives it back.
		if p.done, err = s.beginIntent(id); err != nil {
			return nil, err
		}
		ep, err := nets.Prepare(n, id, pinned, o.Aliases, p.publish)
		if err != nil {
			p.done()
			return nil, asInvalid(err)
		}
		p.endpoints = []*network.Endpoint{ep}
		p.undo = func() error { return nets.ReleaseAll(p.endpoints, id) }
		hosts += ep.IP.String() + "\t" + hostname + "\n"
		if mac != nil {
			ep.MACAddr = mac.String()
		}
	}
	p.resolv = dns.WithSearchOptions(dns.ResolvConf(hostConf, dnsMode, servers), o.DNSSearch, o.DNSOptions)
	for _, h := range extraHosts {
		if name, ok := strings.CutPrefix(h, hostGateway+"\t"); ok {
			h = p.endpoints[0].Gateway.String() + "\t" + name
		}
		hosts += h + "\n"
	}
	p.hosts = []byte(hosts)
	return p, nil
}

// asInvalid makes the network package's user errors exit 125 like ours.
func asInvalid(err error) error {
	if errors.Is(err, network.ErrInvalid) || errors.Is(err, network.ErrNotFound) ||
		errors.Is(err, network.ErrPortInUse) || errors.Is(err, network.ErrInUse) {
		return invalidf("%v", err)
	}
	return err
}

func parseDNS(servers []string) ([]string, error) {
	for _, d := range servers {
		if _, err := netip.ParseAddr(d); err != nil {
			return nil, invalidf("--dns %q is not an IP address", d)
		}
	}
	return servers, nil
}

// hostGateway in --add-host NAME:host-gateway stands for the address of the
// host on the container's network: its gateway.
const hostGateway = "host-gateway"

// parseAddHosts turns --add-host NAME:IP into /etc/hosts lines; a
// host-gateway line keeps the word for planNetwork to replace.
func parseAddHosts(specs []string) ([]string, error) {
	var out []string
	for _, spec := range specs {
		// NAME:IP, where IP may be IPv6 and so contain colons.
		name, ip, ok := strings.Cut(spec, ":")
		if !ok {
			name, ip, ok = strings.Cut(spec, "=")
		}
		if ok && ip == hostGateway && name != "" && validHostname(name) {
			out = append(out, hostGateway+"\t"+name) // the address is the network's, known later
			continue
		}
		addr, err := netip.ParseAddr(strings.Trim(ip, "[]"))
		if !ok || name == "" || err != nil || !validHostname(name) {
			return nil, invalidf("--add-host %q: want NAME:IP or NAME:host-gateway", shorten(spec))
		}
		out = append(out, addr.String()+"\t"+name)
	}
	return out, nil
}

// containerNetNS opens the network namespace of a running container.
func containerNetNS(c *Container) (*os.File, error) {
	if !c.Running() || !alive(c.Pid, c.PidStart) {
		return nil, fmt.Errorf("container %s is not running", c.Name)
	}
	f, err := os.Open("/proc/" + strconv.Itoa(c.Pid) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("network namespace of %s: %w", c.Name, err)
	}
	if !alive(c.Pid, c.PidStart) { // opened after the check: the pid was not reused
		f.Close()
		return nil, fmt.Errorf("container %s is not running", c.Name)
	}
	return f, nil
}

// unwire frees what a container's networking holds while it runs (see
// network.DetachContainer); monitorDied: its veths too.
func (s *Store) unwire(c *Container, monitorDied bool) error {
	if len(c.Endpoints) == 0 {
		return nil
	}
	nets, err := s.Networks()
	if err != nil {
		return err
	}
	return nets.DetachContainer(c.Endpoints, c.Ports, monitorDied)
}

// releaseLeases gives back a removed container's addresses.
func (s *Store) releaseLeases(c *Container) error {
	if len(c.Endpoints) == 0 {
		return nil
	}
	nets, err := s.Networks()
	if err != nil {
		return err
	}
	return nets.ReleaseAll(c.Endpoints, c.ID)
}

// targetNetNS opens the network namespace a container:ID container joins.
func (s *Store) targetNetNS(id string) (*os.File, error) {
	target, err := s.Get(id)
	if err != nil {
		return nil, fmt.Errorf("--network container:%s: %w", id, err)
	}
	return containerNetNS(target)
}

// wire attaches a starting container (its init is r.pid) to its networks,
// publishes its ports and registers its names, as one transaction.
func (s *Store) wire(c *Container, r *running) error {
	if len(c.Endpoints) == 0 {
		return nil
	}
	nets, err := s.Networks()
	if err != nil {
		return err
	}
	ns, err := os.Open("/proc/" + strconv.Itoa(r.pid) + "/ns/net")
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	defer ns.Close()
	req := network.Request{NetNS: ns, Endpoints: c.Endpoints, Publish: c.Publish, Sweep: func() { s.Reconcile() }}
	if m := s.dnsMember(c, r.pid); m != nil {
		req.DNS = m // nil stays a nil interface: no embedded DNS
	}
	a, err := nets.AttachContainer(req)
	if err != nil {
		return asInvalid(err)
	}
	r.net = a
	// The ports are ours until this process (or the shim it becomes) exits.
	r.cleanup = append(r.cleanup, a.Close)
	return nil
}

// hostResolvConf is the host's /etc/resolv.conf, nil if it cannot be read.
func hostResolvConf() []byte {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	return b
}

// dnsMember is what the embedded resolver needs to serve a container (its
// init is pid), nil if it is on no user-defined network.
func (s *Store) dnsMember(c *Container, pid int) *resolver.Member {
	var entries []resolver.Entry
	for _, ep := range c.Endpoints {
		if ep.Network == network.DefaultName {
			continue
		}
		names := append(append([]string{c.Name}, ep.Aliases...), c.ShortID(), c.Host)
		entries = append(entries, resolver.Entry{Network: ep.Network, Names: names, IP: ep.IP})
	}
	if len(entries) == 0 {
		return nil
	}
	// The host's nameservers as they are at this start.
	return &resolver.Member{Dir: s.resolverDir(), Registration: resolver.Registration{
		ID: c.ID, Pid: pid, Upstreams: dns.Upstreams(hostResolvConf(), c.DNS), Entries: entries,
	}}
}

func (s *Store) resolverDir() string { return filepath.Join(s.Root, "dns") }

// updateDNS tells the resolver a running container's new names. One it
// does not serve yet (started on the default bridge, now connected to a
// user-defined network) is registered, and its resolv.conf (the file bind
// mounted into it) is pointed at the resolver, as Docker does.
func (s *Store) updateDNS(c *Container) error {
	if !c.Running() {
		return nil // its next start registers it
	}
	m := s.dnsMember(c, c.Pid)
	var entries []resolver.Entry
	if m != nil {
		entries = m.Entries
	}
	served, err := resolver.Update(s.resolverDir(), c.ID, entries)
	if err != nil || served || m == nil {
		return err
	}
	ns, err := containerNetNS(c)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := m.Register(ns); err != nil {
		return err
	}
	conf := dns.WithSearchOptions(dns.ResolvConf(hostResolvConf(), dns.Embedded, nil), c.DNSSearch, c.DNSOptions)
	return os.WriteFile(filepath.Join(s.Dir(c.ID), "resolv.conf"), conf, 0o644)
}

// hostGatewayOutsideBridge resolves host-gateway for a container on no
// bridge network of its own (host, none, container:): as Docker's
// host-gateway-ip, the default bridge's gateway, an address of the host.
// Before that network is first used it has none: refused.
func (s *Store) hostGatewayOutsideBridge(lines []string, mode string) ([]string, error) {
	for i, h := range lines {
		name, ok := strings.CutPrefix(h, hostGateway+"\t")
		if !ok {
			continue
		}
		nets, err := s.Networks()
		if err != nil {
			return nil, err
		}
		n, err := nets.Find(network.DefaultName) // finding makes nothing
		if err != nil || !n.Gateway.IsValid() {
			return nil, invalidf("--add-host %s:host-gateway: with --network %s it is the default bridge's gateway, and that network has no gateway yet (run a container on it first)", name, mode)
		}
		lines[i] = n.Gateway.String() + "\t" + name
	}
	return lines, nil
}
