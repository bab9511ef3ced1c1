// Package dns makes a container's DNS configuration: its resolv.conf and
// the upstreams the embedded resolver (package dns/resolver) forwards to.
// Both are pure functions of the host's resolv.conf, which the caller reads
// once and passes in.
package dns

import (
	"net/netip"
	"strings"
)

// ResolverAddr is where containers on user-defined networks find the
// embedded resolver.
const ResolverAddr = "127.0.0.11"

// Mode is whose nameservers a container's resolv.conf names.
type Mode int

const (
	// Private: a network namespace of its own. The host's nameservers,
	// less loopback ones (such as 127.0.0.53), which cannot answer there.
	Private Mode = iota
	// Host: the host's network namespace, so the host's file as it is.
	Host
	// Embedded: a user-defined network, so the embedded resolver, which
	// forwards to the servers (see Upstreams).
	Embedded
)

// ResolvConf is a container's /etc/resolv.conf. host is the host's file
// (nil if it could not be read); servers are --dns's, which replace the
// host's nameservers (or, with the embedded resolver, are its upstreams).
// Nil means no file to write.
func ResolvConf(host []byte, mode Mode, servers []string) []byte {
	if mode == Embedded {
		return embeddedConf(host)
	}
	if host == nil && len(servers) == 0 {
		return nil
	}
	if mode == Host && len(servers) == 0 {
		return host
	}
	var out []string
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" && (len(servers) > 0 || strings.HasPrefix(f[1], "127.") || f[1] == "::1") {
			continue
		}
		out = append(out, line)
	}
	for _, d := range servers {
		out = append(out, "nameserver "+d)
	}
	return []byte(strings.Trim(strings.Join(out, "\n"), "\n") + "\n")
}

// embeddedConf names the embedded resolver, with the host's search domains
// and options, and Docker's ndots:0.
func embeddedConf(host []byte) []byte {
	var out []string
	options := []string{"ndots:0"}
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && (f[0] == "search" || f[0] == "domain"):
			out = append(out, line)
		case len(f) >= 2 && f[0] == "options":
			for _, o := range f[1:] {
				if !strings.HasPrefix(o, "ndots:") {
					options = append(options, o)
				}
			}
		}
	}
	out = append(out, "nameserver "+ResolverAddr, "options "+strings.Join(options, " "))
	return []byte(strings.Join(out, "\n") + "\n")
}

// Upstreams are where the embedded resolver forwards a container's other
// names, as "ip:53": its --dns servers, else the host's nameservers
// (loopback ones included: the resolver asks from the host's namespace).
func Upstreams(host []byte, servers []string) []string {
	if len(servers) == 0 {
		for _, line := range strings.Split(string(host), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "nameserver" {
				servers = append(servers, f[1])
			}
		}
	}
	var out []string
	for _, s := range servers {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.AddrPortFrom(a.WithZone(""), 53).String())
		}
	}
	return out
}
