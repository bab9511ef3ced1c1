package network

import (
	"errors"
	"net/netip"
	"os"

	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/network/portspec"
)

// Registrar makes a container's names resolvable from inside its network
// namespace (the embedded DNS: package dns/resolver). It needs no undo: the
// resolver drops a container when its init exits.
type Registrar interface {
	Register(ns *os.File) error
}

// Request is what a starting container asks of its networks.
type Request struct {
	NetNS     *os.File           // the container's network namespace
	Endpoints []*Endpoint        // leased at create; ports are published to the first
	Publish   []portspec.Mapping // a host port of 0 gets a free one
	DNS       Registrar          // nil: no embedded DNS
	// Sweep frees what a killed hutch left. It is called once if a host
	// port this attachment holds is still in the port maps.
	Sweep func()
}

// Attachment is a container wired into its networks: veths, host ports
// held and published, names registered. Made in one transaction: it has
// all of these or, on error, none.
type Attachment struct {
	Ports []portspec.Mapping // published, every host port filled in
	held  *reservation
	undo  []func() error // in the order made
}

// attacher is the host side of an attachment, one method per step: the
// Store's, or a test's that fails on demand.
type attacher interface {
	attach(e *Endpoint, ns *os.File) error
	detach(e *Endpoint) error
	reserve(ms []portspec.Mapping) (*reservation, error)
	publish(ms []portspec.Mapping, ip netip.Addr) error
	unpublish(ms []portspec.Mapping, ip netip.Addr) error
}

type host struct{ s *Store }

func (h host) attach(e *Endpoint, ns *os.File) error                { return h.s.attachEndpoint(e, ns) }
func (h host) detach(e *Endpoint) error                             { return h.s.detachEndpoint(e) }
func (h host) reserve(ms []portspec.Mapping) (*reservation, error)  { return reserve(ms) }
func (h host) publish(ms []portspec.Mapping, ip netip.Addr) error   { return h.s.publish(ms, ip) }
func (h host) unpublish(ms []portspec.Mapping, ip netip.Addr) error { return h.s.unpublish(ms, ip) }

// Prepare is what a container's create asks of its network n: it leases
// owner its first endpoint there (ip pins the address) and checks that the
// host ports of publish are free now, so that a taken one fails the create
// before anything exists (AttachContainer binds them for real at each
// start). On error nothing is held.
func (s *Store) Prepare(n *Network, owner string, ip netip.Addr, aliases []string, publish []portspec.Mapping) (*Endpoint, error) {
	ep, err := s.newEndpoint(n, owner, 0, ip, aliases)
	if err != nil {
		return nil, err
	}
	r, err := reserve(publish)
	if err != nil {
		return nil, errors.Join(err, s.release(ep, owner))
	}
	r.Close()
	return ep, nil
}

// AttachContainer wires a starting container into its networks: each
// network's bridge (remade if a reboot took it) and a veth per endpoint,
// the host ports bound (so no host process takes them) and published with
// one nftables batch, and its names with the DNS registrar, at the same
// time as the rest (it needs only the namespace). On error what was made
// is undone, and the undo's own errors are joined to the error.
func (s *Store) AttachContainer(req Request) (*Attachment, error) {
	return attachContainer(host{s}, req)
}

func attachContainer(h attacher, req Request) (att *Attachment, err error) {
	a := &Attachment{}
	if len(req.Endpoints) == 0 {
		return a, nil
	}
	defer func() { // after the registrar is done: runs last
		if err != nil {
			if uerr := a.Detach(); uerr != nil {
				err = errors.Join(err, uerr)
			}
			att = nil
		}
	}()
	dnsDone := make(chan error, 1)
	if req.DNS != nil {
		go func() { dnsDone <- req.DNS.Register(req.NetNS) }()
	} else {
		dnsDone <- nil
	}
	defer func() {
		if dnsErr := <-dnsDone; err == nil {
			err = dnsErr
		}
	}()
	for _, ep := range req.Endpoints {
		if err := h.attach(ep, req.NetNS); err != nil {
			return nil, err
		}
		a.undo = append(a.undo, func() error { return h.detach(ep) })
	}
	if len(req.Publish) == 0 {
		return a, nil
	}
	res, err := h.reserve(req.Publish)
	if err != nil {
		return nil, err
	}
	a.held = res
	a.undo = append(a.undo, func() error { res.Close(); return nil })
	ip := req.Endpoints[0].IP
	err = h.publish(res.Mappings, ip)
	if errors.Is(err, nft.ErrPortPublished) && req.Sweep != nil {
		// The host port is ours (bound above), so the element in the way
		// is one a killed hutch left: sweep, and try once more.
		req.Sweep()
		err = h.publish(res.Mappings, ip)
	}
	if err != nil {
		return nil, err
	}
	a.undo = append(a.undo, func() error { return h.unpublish(res.Mappings, ip) })
	a.Ports = res.Mappings
	return a, nil
}

// Files are the sockets that hold the host ports: whoever keeps them open
// (the monitor, then its shim) keeps the ports.
func (a *Attachment) Files() []*os.File {
	if a == nil || a.held == nil {
		return nil
	}
	return a.held.Files
}

// Close lets go of this process's hold on the host ports. They stay
// published: the container's record names them, for DetachContainer.
func (a *Attachment) Close() {
	if a != nil && a.held != nil {
		a.held.Close()
	}
}

// Detach undoes the attachment, last step first: the ports unpublished and
// let go, the veths removed. A nil attachment is nothing to undo.
func (a *Attachment) Detach() error {
	if a == nil {
		return nil
	}
	var errs []error
	for i := len(a.undo) - 1; i >= 0; i-- {
		errs = append(errs, a.undo[i]())
	}
	a.undo = nil
	return errors.Join(errs...)
}

// DetachContainer frees what a container's networks hold while it runs,
// from its record: its endpoints and the ports it published. Addresses
// stay until ReleaseAll.
//
// Deleting a veth costs 15-30 ms of RCU waits, so a container that just
// exited leaves its veths to the kernel: they go with its network
// namespace. Only a namespace that may outlive the container (its monitor
// killed, a container:NAME sharer) needs them deleted (monitorDied). A
// monitor killed between publishing ports and recording them leaves ports
// its record does not name: then every port to its address goes.
func (s *Store) DetachContainer(eps []*Endpoint, ports []portspec.Mapping, monitorDied bool) error {
	if len(eps) == 0 {
		return nil
	}
	if !monitorDied {
		return s.unpublish(ports, eps[0].IP)
	}
	var errs []error
	for _, ep := range eps {
		errs = append(errs, s.detachEndpoint(ep))
	}
	return errors.Join(append(errs, s.unpublishTo(eps[0].IP))...)
}

// ReleaseAll gives back the addresses of owner's endpoints.
func (s *Store) ReleaseAll(eps []*Endpoint, owner string) error {
	var errs []error
	for _, ep := range eps {
		errs = append(errs, s.release(ep, owner))
	}
	return errors.Join(errs...)
}

// Connect leases owner an address on n (ip pins one) as its index'th
// endpoint and, if ns is not nil (the container runs), wires it in. On
// error nothing is held.
func (s *Store) Connect(n *Network, owner string, index int, ip netip.Addr, aliases []string, ns *os.File) (*Endpoint, error) {
	ep, err := s.newEndpoint(n, owner, index, ip, aliases)
	if err != nil || ns == nil {
		return ep, err
	}
	if err := s.attachEndpoint(ep, ns); err != nil {
		return nil, errors.Join(err, s.release(ep, owner))
	}
	return ep, nil
}

// Disconnect removes the endpoint's veth, if any, and gives its address back.
func (s *Store) Disconnect(e *Endpoint, owner string) error {
	return errors.Join(s.detachEndpoint(e), s.release(e, owner))
}
