package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/hutchrt/hutch/network/nft"
	"github.com/hutchrt/hutch/network/portspec"
	"github.com/hutchrt/hutch/runtime/flock"
)

// reservation holds published host ports: a bound socket per port, so no
// host process can take one while the container runs and a free port
// chosen by the kernel stays ours. The sockets never listen: the kernel
// DNATs the traffic before it could reach them.
type reservation struct {
	Files    []*os.File
	Mappings []portspec.Mapping // with every host port filled in
}

// Close releases the ports.
func (r *reservation) Close() {
	for _, f := range r.Files {
		f.Close()
	}
}

// ErrPortInUse marks a host port that is taken.
var ErrPortInUse = errors.New("host port is already in use")

// reserve binds every mapping's host port; a port of 0 gets a free one.
func reserve(ms []portspec.Mapping) (*reservation, error) {
	r := &reservation{}
	for _, m := range ms {
		f, port, err := bindPort(m)
		if err != nil {
			r.Close()
			return nil, err
		}
		m.HostPort = port
		r.Files = append(r.Files, f)
		r.Mappings = append(r.Mappings, m)
	}
	return r, nil
}

func bindPort(m portspec.Mapping) (*os.File, uint16, error) {
	typ := unix.SOCK_STREAM
	if m.Proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("reserve port: %w", err)
	}
	sa := &unix.SockaddrInet4{Port: int(m.HostPort)}
	if m.HostIP.IsValid() {
		sa.Addr = m.HostIP.As4()
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		host := "0.0.0.0"
		if m.HostIP.IsValid() {
			host = m.HostIP.String()
		}
		switch {
		case errors.Is(err, unix.EADDRINUSE):
			return nil, 0, fmt.Errorf("host port %s:%d/%s is already in use%w", host, m.HostPort, m.Proto, errSilent{ErrPortInUse})
		case errors.Is(err, unix.EADDRNOTAVAIL):
			return nil, 0, invalidf("-p %s: %s is not an address of this host", m, host)
		}
		return nil, 0, fmt.Errorf("reserve host port %s:%d/%s: %w", host, m.HostPort, m.Proto, err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("reserve port: %w", err)
	}
	return os.NewFile(uintptr(fd), "port"), uint16(got.(*unix.SockaddrInet4).Port), nil
}

// publish sends the reserved ports to ip with one nftables batch.
func (s *Store) publish(ms []portspec.Mapping, ip netip.Addr) error {
	if len(ms) == 0 {
		return nil
	}
	if err := s.Table.Ensure(); err != nil {
		return err
	}
	unlock, err := s.portsLock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.Table.AddPorts(nftPorts(ms, ip))
}

// portsLock serialises changes to the port maps: nft.Table checks a new
// port against the maps before adding it, and that must not interleave.
func (s *Store) portsLock() (func(), error) {
	return flock.Exclusive(filepath.Join(s.dir, ".ports.lock"))
}

// unpublish removes the ports' map elements; ones already gone are fine.
func (s *Store) unpublish(ms []portspec.Mapping, ip netip.Addr) error {
	if len(ms) == 0 {
		return nil
	}
	unlock, err := s.portsLock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.Table.RemovePorts(nftPorts(ms, ip))
}

// unpublishTo removes every port published to ip, recorded or not: a
// monitor killed between publishing and recording leaves ports nobody
// listed. The address is its container's until rm, so they are its own.
func (s *Store) unpublishTo(ip netip.Addr) error {
	unlock, err := s.portsLock()
	if err != nil {
		return err
	}
	defer unlock()
	if ok, err := s.Table.Exists(); err != nil || !ok {
		return err
	}
	published, err := s.Table.Ports()
	if err != nil {
		return err
	}
	var gone []nft.Port
	for _, p := range published {
		if p.ContainerIP == ip.Unmap() {
			gone = append(gone, p)
		}
	}
	return s.Table.RemovePorts(gone)
}

func nftPorts(ms []portspec.Mapping, ip netip.Addr) []nft.Port {
	ps := make([]nft.Port, 0, len(ms))
	for _, m := range ms {
		ps = append(ps, nft.Port{HostIP: m.HostIP, HostPort: m.HostPort, Proto: m.Proto, ContainerIP: ip, ContainerPort: m.ContainerPort})
	}
	return ps
}
