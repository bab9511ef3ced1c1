// Package portspec parses Docker's -p/--publish syntax into port mappings:
//
//	[hostIP:][hostPort:]containerPort[/tcp|/udp]
//
// where hostPort and containerPort may be ranges "A-B" of the same length,
// mapped pairwise. A missing host port means "pick a free one at start", a
// missing host IP means every host address. Only IPv4 host addresses are
// supported. The package is pure: it checks syntax and conflicts between the
// specs of one command, not whether a host port is free.
package portspec

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Mapping is one published port.
type Mapping struct {
	HostIP        netip.Addr // invalid (zero) = every host address (0.0.0.0)
	HostPort      uint16     // 0 = pick a free port at start
	ContainerPort uint16
	Proto         string // "tcp" or "udp"
}

// String formats m like a `docker port` line: "80/tcp -> 0.0.0.0:8080".
func (m Mapping) String() string {
	return m.ContainerKey() + " -> " + m.hostKey()
}

// ContainerKey is the container side, "80/tcp", as in Docker inspect's Ports keys.
func (m Mapping) ContainerKey() string {
	return strconv.Itoa(int(m.ContainerPort)) + "/" + m.Proto
}

func (m Mapping) hostKey() string {
	ip := "0.0.0.0"
	if m.HostIP.IsValid() {
		ip = m.HostIP.String()
	}
	return ip + ":" + strconv.Itoa(int(m.HostPort))
}

// Parse expands one -p value into its mappings (several for port ranges).
// An explicit 0.0.0.0 host IP is returned as the zero Addr, so that it
// compares equal to an omitted one.
func Parse(spec string) ([]Mapping, error) {
	ms, err := parse(spec)
	if err != nil {
		return nil, fmt.Errorf("-p %q: %s", spec, err)
	}
	return ms, nil
}

// ParseAll parses every spec and rejects host ports published twice: the
// same (host IP, host port, protocol), or the same (host port, protocol) on
// both 0.0.0.0 and a specific address, which could never both be bound.
func ParseAll(specs []string) ([]Mapping, error) {
	type hostPort struct {
		port  uint16
		proto string
	}
	type owner struct {
		spec string
		m    Mapping
	}
	var all []Mapping
	byPort := map[hostPort][]owner{}
	for _, spec := range specs {
		ms, err := Parse(spec)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.HostPort == 0 {
				all = append(all, m)
				continue
			}
			k := hostPort{m.HostPort, m.Proto}
			for _, o := range byPort[k] {
				if o.m.HostIP == m.HostIP || !o.m.HostIP.IsValid() || !m.HostIP.IsValid() {
					return nil, fmt.Errorf("-p %q: %s/%s conflicts with %s/%s published by -p %q",
						spec, m.hostKey(), m.Proto, o.m.hostKey(), o.m.Proto, o.spec)
				}
			}
			byPort[k] = append(byPort[k], owner{spec, m})
			all = append(all, m)
		}
	}
	return all, nil
}

func parse(spec string) ([]Mapping, error) {
	if spec == "" {
		return nil, fmt.Errorf("empty port specification")
	}
	addr, proto, hasProto := strings.Cut(spec, "/")
	if !hasProto {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto == "" {
		return nil, fmt.Errorf("missing protocol after \"/\" (tcp or udp)")
	}
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("unsupported protocol %q (only tcp and udp)", proto)
	}
	if strings.HasPrefix(addr, "[") {
		return nil, fmt.Errorf("IPv6 host addresses are not supported")
	}

	var ipPart, hostPart, ctrPart string
	parts := strings.Split(addr, ":")
	switch len(parts) {
	case 1:
		ctrPart = parts[0]
	case 2:
		hostPart, ctrPart = parts[0], parts[1]
	case 3:
		ipPart, hostPart, ctrPart = parts[0], parts[1], parts[2]
	default:
		// "::1:80:80" is an IPv6 address that lost its brackets; say so.
		if ip, err := netip.ParseAddr(strings.Join(parts[:len(parts)-2], ":")); err == nil && ip.Is6() {
			return nil, fmt.Errorf("IPv6 host addresses are not supported")
		}
		return nil, fmt.Errorf("too many colons (want [hostIP:][hostPort:]containerPort[/protocol])")
	}

	var hostIP netip.Addr
	if ipPart != "" {
		ip, err := netip.ParseAddr(ipPart)
		if err != nil {
			return nil, fmt.Errorf("invalid host IP %q", ipPart)
		}
		if !ip.Is4() {
			return nil, fmt.Errorf("IPv6 host addresses are not supported")
		}
		if !ip.IsUnspecified() {
			hostIP = ip
		}
	}
	if ctrPart == "" {
		return nil, fmt.Errorf("missing container port")
	}
	ctrFirst, ctrLast, err := parseRange(ctrPart)
	if err != nil {
		return nil, err
	}
	var hostFirst, hostLast uint16
	if hostPart != "" {
		if hostFirst, hostLast, err = parseRange(hostPart); err != nil {
			return nil, err
		}
		if hostLast-hostFirst != ctrLast-ctrFirst {
			return nil, fmt.Errorf("host port range and container port range must have the same length")
		}
	}

	ms := make([]Mapping, 0, int(ctrLast-ctrFirst)+1)
	for i := 0; i <= int(ctrLast-ctrFirst); i++ {
		m := Mapping{HostIP: hostIP, ContainerPort: ctrFirst + uint16(i), Proto: proto}
		if hostFirst != 0 {
			m.HostPort = hostFirst + uint16(i)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// parseRange parses "80" or "80-82".
func parseRange(s string) (first, last uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if isRange && (a == "" || b == "") {
		return 0, 0, fmt.Errorf("invalid port range %q (want A-B)", s)
	}
	if first, err = parsePort(a); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return first, first, nil
	}
	if last, err = parsePort(b); err != nil {
		return 0, 0, err
	}
	if last < first {
		return 0, 0, fmt.Errorf("invalid port range %s: %d is greater than %d", s, first, last)
	}
	return first, last, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("invalid port %q: not a number", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n < 1 || n > 65535 { // err: all digits, so only overflow
		return 0, fmt.Errorf("port %s is out of range (1-65535)", s)
	}
	return uint16(n), nil
}

// ParseExpose expands one --expose value, or an image's ExposedPorts key,
// "PORT[/PROTO]" or "A-B[/PROTO]", into container ports with no host port.
func ParseExpose(spec string) ([]Mapping, error) {
	ports, proto, hasProto := strings.Cut(spec, "/")
	if !hasProto {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("--expose %q: unsupported protocol %q (only tcp and udp)", spec, proto)
	}
	first, last, err := parseRange(ports)
	if err != nil {
		return nil, fmt.Errorf("--expose %q: %s", spec, err)
	}
	ms := make([]Mapping, 0, int(last-first)+1)
	for p := int(first); p <= int(last); p++ {
		ms = append(ms, Mapping{ContainerPort: uint16(p), Proto: proto})
	}
	return ms, nil
}
