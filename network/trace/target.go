package trace

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// DefaultPort is the port of a target given without one.
const DefaultPort = 80

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ParseTarget reads TARGET[:PORT][/PROTO]: an IPv4 address or a name, the
// port (DefaultPort if none), tcp or udp (tcp if none).
func ParseTarget(s string) (Target, error) {
	t := Target{Port: DefaultPort, Proto: "tcp"}
	rest := s
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		t.Proto = strings.ToLower(rest[i+1:])
		rest = rest[:i]
		if t.Proto != "tcp" && t.Proto != "udp" {
			return t, fmt.Errorf("target %q: protocol %q: want tcp or udp%w", s, t.Proto, silent{ErrBadInput})
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		p, err := strconv.ParseUint(rest[i+1:], 10, 16)
		if err != nil || p == 0 {
			return t, fmt.Errorf("target %q: port %q: want 1 to 65535%w", s, rest[i+1:], silent{ErrBadInput})
		}
		t.Port = uint16(p)
		rest = rest[:i]
	}
	if a, err := netip.ParseAddr(rest); err == nil {
		if !a.Is4() {
			return t, fmt.Errorf("target %q: only IPv4 is traced%w", s, silent{ErrBadInput})
		}
		t.Addr = a
		return t, nil
	}
	if !validName.MatchString(rest) || len(rest) > 253 {
		return t, fmt.Errorf("target %q: want an IPv4 address or a name%w", s, silent{ErrBadInput})
	}
	t.Name = rest
	return t, nil
}
