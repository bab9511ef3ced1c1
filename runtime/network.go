package runtime

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/dns"
	"github.com/hutchrt/hutch/dns/resolver"
	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/network/portspec"
)

// Networks is the network store of this root.
func (s *Store) Networks() (*network.Store, error) { return network.Open(s.Root) }

// netPlan is what Create resolved about a container's networking.
type netPlan struct {
	mode      string // none, host, container:ID, or a network's name
	endpoints []*network.Endpoint
	publish   []portspec.Mapping
	hosts     []byte // /etc/hosts
	resolv    []byte // /etc/resolv.conf
	undo      func() // gives the leases back if Create fails later
	done      func() // forgets the intent, once the record holds the leases or they are undone
}

// planNetwork checks o's network options and leases the container's
// addresses. On error nothing is held.
// exposed are the ports -P publishes.
func (s *Store) planNetwork(o *RunOptions, exposed []portspec.Mapping, id, hostname string) (p *netPlan, err error) {
	p = &netPlan{mode: o.Network, undo: func() {}, done: func() {}}
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
		ep, err := nets.NewEndpoint(n, id, 0, pinned, o.Aliases)
		if err != nil {
			p.done()
			return nil, asInvalid(err)
		}
		p.endpoints = []*network.Endpoint{ep}
		undo := func() { nets.Release(ep, id) }
		p.undo = undo
		done := p.done
		defer func() {
			if err != nil { // p is nil by then
				undo()
				done()
			}
		}()
		// A host port taken now fails the run before anything exists; the
		// monitor reserves it for real when the container starts.
		r, err := network.Reserve(p.publish)
		if err != nil {
			return nil, asInvalid(err)
		}
		r.Close()
		hosts += ep.IP.String() + "\t" + hostname + "\n"
	}
	p.resolv = dns.ResolvConf(hostConf, dnsMode, servers)
	for _, h := range extraHosts {
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

// parseAddHosts turns --add-host NAME:IP into /etc/hosts lines.
func parseAddHosts(specs []string) ([]string, error) {
	var out []string
	for _, spec := range specs {
		// NAME:IP, where IP may be IPv6 and so contain colons.
		name, ip, ok := strings.Cut(spec, ":")
		if !ok {
			name, ip, ok = strings.Cut(spec, "=")
		}
		addr, err := netip.ParseAddr(strings.Trim(ip, "[]"))
		if !ok || name == "" || err != nil || !validHostname(name) {
			return nil, invalidf("--add-host %q: want NAME:IP", shorten(spec))
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

// unwire frees what a container's networking holds while it runs: its
// published ports and, if its monitor died, its veths. Addresses stay
// until rm.
//
// Deleting a veth costs 15-30 ms of RCU waits, so a container that just
// exited leaves its veths to the kernel: they go with its network namespace.
// Only a namespace that may outlive the container (a monitor killed, a
// container:NAME sharer) needs them deleted here. A monitor killed between
// publishing ports and recording them leaves ports its record does not
// name: then every port to its address goes.
func (s *Store) unwire(c *Container, monitorDied bool) error {
	if len(c.Endpoints) == 0 {
		return nil
	}
	nets, err := s.Networks()
	if err != nil {
		return err
	}
	if !monitorDied {
		return nets.Unpublish(c.Ports, c.Endpoints[0].IP)
	}
	var errs []error
	for _, ep := range c.Endpoints {
		errs = append(errs, nets.Detach(ep))
	}
	return errors.Join(append(errs, nets.UnpublishTo(c.Endpoints[0].IP))...)
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
	var errs []error
	for _, ep := range c.Endpoints {
		errs = append(errs, nets.Release(ep, c.ID))
	}
	return errors.Join(errs...)
}

// targetNetNS opens the network namespace a container:ID container joins.
func (s *Store) targetNetNS(id string) (*os.File, error) {
	target, err := s.Get(id)
	if err != nil {
		return nil, fmt.Errorf("--network container:%s: %w", id, err)
	}
	return containerNetNS(target)
}

// wire attaches a starting container (its init is r.pid) to its networks
// and publishes its ports. On error it undoes what it made.
func (s *Store) wire(c *Container, r *running) (err error) {
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
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	// The resolver's sockets need only the namespace, not the veths: make
	// both at once. (If the start fails, the init dies and the resolver
	// drops the container on its own.)
	dnsDone := make(chan error, 1)
	go func() { dnsDone <- s.serveDNS(c, r.pid, ns) }()
	defer func() {
		if dnsErr := <-dnsDone; err == nil {
			err = dnsErr
		}
	}()
	for _, ep := range c.Endpoints {
		if err := nets.Attach(ep, ns); err != nil {
			return err
		}
		undo = append(undo, func() { nets.Detach(ep) })
	}
	if len(c.Publish) == 0 {
		return nil
	}
	res, err := network.Reserve(c.Publish)
	if err != nil {
		return asInvalid(err)
	}
	undo = append(undo, res.Close)
	ip := c.Endpoints[0].IP
	err = nets.Publish(res.Mappings, ip)
	if errors.Is(err, nft.ErrPortPublished) {
		// The host port is ours (bound above), so the element in the way
		// is one a killed hutch left: sweep, and try once more.
		s.Reconcile()
		err = nets.Publish(res.Mappings, ip)
	}
	if err != nil {
		return err
	}
	r.ports = res
	// The ports are ours until this process (or the shim it becomes) exits.
	r.cleanup = append(r.cleanup, res.Close)
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

// dnsEntries are a container's names on each user-defined network it is on.
func dnsEntries(c *Container) []resolver.Entry {
	var out []resolver.Entry
	for _, ep := range c.Endpoints {
		if ep.Network == network.DefaultName {
			continue
		}
		names := append(append([]string{c.Name}, ep.Aliases...), c.ShortID(), c.Host)
		out = append(out, resolver.Entry{Network: ep.Network, Names: names, IP: ep.IP})
	}
	return out
}

func (s *Store) resolverDir() string { return filepath.Join(s.Root, "dns") }

// serveDNS has the embedded resolver serve a starting container on a
// user-defined network, and points port 53 of 127.0.0.11 at it.
func (s *Store) serveDNS(c *Container, pid int, ns *os.File) error {
	entries := dnsEntries(c)
	if len(entries) == 0 {
		return nil
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	defer unix.Close(pidfd)
	udp, tcp, err := resolver.Register(s.resolverDir(), resolver.Registration{
		// The host's nameservers as they are at this start.
		ID: c.ID, NetNS: ns, Pidfd: pidfd, Upstreams: dns.Upstreams(hostResolvConf(), c.DNS), Entries: entries,
	})
	if err != nil {
		return err
	}
	return nft.RedirectDNS(int(ns.Fd()), netip.MustParseAddr(dns.ResolverAddr), uint16(udp), uint16(tcp))
}

// updateDNS tells the resolver a running container's new names. One it
// does not serve yet (started on the default bridge, now connected to a
// user-defined network) is registered, and its resolv.conf (the file bind
// mounted into it) is pointed at the resolver, as Docker does.
func (s *Store) updateDNS(c *Container) error {
	if !c.Running() {
		return nil // its next start registers it
	}
	entries := dnsEntries(c)
	served, err := resolver.Update(s.resolverDir(), c.ID, entries)
	if err != nil || served || len(entries) == 0 {
		return err
	}
	ns, err := containerNetNS(c)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := s.serveDNS(c, c.Pid, ns); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir(c.ID), "resolv.conf"), dns.ResolvConf(hostResolvConf(), dns.Embedded, nil), 0o644)
}
