// Package ipam chooses IPv4 subnets for networks and leases addresses
// inside them.
//
// Subnet choice is pure: the caller gathers what is already in use (host
// routes and addresses, other networks' subnets) and ChooseSubnet picks the
// first candidate of the pool that overlaps none of it. Leases keeps one file
// per leased address in a directory; creating that file with O_EXCL is the
// reservation, so concurrent hutch processes never hand out an address twice
// without sharing any other lock.
package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// Sentinel errors; returned errors wrap them with context.
var (
	ErrPoolExhausted = errors.New("no free subnet in the address pool")
	ErrNoFreeAddress = errors.New("no free address")
	ErrAddressInUse  = errors.New("address already in use")
	ErrOutsideSubnet = errors.New("address outside the subnet")
)

// PoolEnv names the variable that replaces DefaultPool.
const PoolEnv = "HUTCH_SUBNET_POOL"

// Prefix lengths CheckSubnet accepts: /8 is already huge, and a /31 or /32
// leaves no address for a container next to the gateway.
const (
	minBits = 8
	maxBits = 30
)

// DefaultPool is the ordered list of candidate subnets, as in Docker's
// default address pools: 172.17.0.0/16 … 172.31.0.0/16, then
// 192.168.0.0/20, 192.168.16.0/20, … 192.168.240.0/20.
func DefaultPool() []netip.Prefix {
	var pool []netip.Prefix
	for b := byte(17); b <= 31; b++ {
		pool = append(pool, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, b, 0, 0}), 16))
	}
	for c := 0; c < 256; c += 16 {
		pool = append(pool, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(c), 0}), 20))
	}
	return pool
}

// PoolFromEnv returns DefaultPool, or the comma-separated subnets in
// $HUTCH_SUBNET_POOL when it is set and not empty, in order. Every entry must
// pass CheckSubnet; empty entries (a trailing comma) are ignored.
func PoolFromEnv() ([]netip.Prefix, error) {
	v := strings.TrimSpace(os.Getenv(PoolEnv))
	if v == "" {
		return DefaultPool(), nil
	}
	var pool []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := ParseSubnet(s)
		if err == nil {
			_, err = CheckSubnet(p, netip.Addr{})
		}
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", PoolEnv, err)
		}
		pool = append(pool, p)
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("$%s: no subnets in %q", PoolEnv, v)
	}
	return pool, nil
}

// ChooseSubnet returns the first candidate that overlaps none of taken.
func ChooseSubnet(candidates, taken []netip.Prefix) (netip.Prefix, error) {
next:
	for _, c := range candidates {
		for _, t := range taken {
			if Overlaps(c, t) {
				continue next
			}
		}
		return c, nil
	}
	return netip.Prefix{}, fmt.Errorf("choose subnet: all %d candidates overlap existing routes or networks (set $%s, or give a subnet): %w",
		len(candidates), PoolEnv, ErrPoolExhausted)
}

// Overlaps reports whether a and b share any address. A host address with
// its interface's prefix length (10.1.2.3/16) counts as its whole network.
func Overlaps(a, b netip.Prefix) bool {
	return a.Overlaps(b)
}

// ParseSubnet parses an IPv4 CIDR such as "10.1.0.0/16". It does not
// validate the subnet for use: that is CheckSubnet.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if !strings.Contains(s, "/") {
			return netip.Prefix{}, fmt.Errorf("invalid subnet %q: want CIDR notation such as 10.1.0.0/16", s)
		}
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q: want CIDR notation such as 10.1.0.0/16: %w", s, err)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %q: IPv6 subnets are not supported", s)
	}
	return p, nil
}

// CheckSubnet validates a user-given subnet and optional gateway, and returns
// the gateway to use: the given one, or the subnet's first address. The
// subnet must be IPv4 in canonical form (10.1.0.0/16, not 10.1.2.3/16:
// the host bits would be silently dropped) with a prefix length between /8
// and /30.
func CheckSubnet(subnet netip.Prefix, gateway netip.Addr) (netip.Addr, error) {
	switch {
	case !subnet.IsValid():
		return netip.Addr{}, fmt.Errorf("invalid subnet")
	case !subnet.Addr().Is4():
		return netip.Addr{}, fmt.Errorf("subnet %s: IPv6 subnets are not supported", subnet)
	case subnet != subnet.Masked():
		return netip.Addr{}, fmt.Errorf("subnet %s has host bits set: did you mean %s?", subnet, subnet.Masked())
	case subnet.Bits() < minBits || subnet.Bits() > maxBits:
		return netip.Addr{}, fmt.Errorf("subnet %s: prefix length must be between /%d and /%d", subnet, minBits, maxBits)
	}
	r := rangeOf(subnet)
	if !gateway.IsValid() {
		return addrOf(r.network + 1), nil
	}
	gateway = gateway.Unmap()
	switch {
	case !gateway.Is4():
		return netip.Addr{}, fmt.Errorf("gateway %s: IPv6 is not supported", gateway)
	case !subnet.Contains(gateway):
		return netip.Addr{}, fmt.Errorf("gateway %s: %w %s", gateway, ErrOutsideSubnet, subnet)
	case gateway == addrOf(r.network):
		return netip.Addr{}, fmt.Errorf("gateway %s is the network address of %s", gateway, subnet)
	case gateway == addrOf(r.broadcast):
		return netip.Addr{}, fmt.Errorf("gateway %s is the broadcast address of %s", gateway, subnet)
	}
	return gateway, nil
}

// ipRange is an IPv4 prefix as integers; uint64 so that a /0 cannot overflow.
type ipRange struct{ network, broadcast uint64 }

func rangeOf(p netip.Prefix) ipRange {
	n := uint64(toU32(p.Masked().Addr()))
	return ipRange{n, n + 1<<(32-p.Bits()) - 1}
}

func addrOf(n uint64) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func toU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
