package runtime

import (
	"slices"
	"testing"
)

func TestParseAddHosts(t *testing.T) {
	got, err := parseAddHosts([]string{"db:10.0.0.5", "v6host:[fd00::1]", "eq=192.0.2.9", "x6:fd00::2", "gw:host-gateway"})
	want := []string{"10.0.0.5\tdb", "fd00::1\tv6host", "192.0.2.9\teq", "fd00::2\tx6", "host-gateway\tgw"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseAddHosts = %q, %v, want %q", got, err, want)
	}
	for _, bad := range []string{"db", "db:", ":10.0.0.1", "db:notanip", "bad_name!:10.0.0.1", "db:10.0.0.300", ":host-gateway", "db:host-gw"} {
		if _, err := parseAddHosts([]string{bad}); err == nil || !IsInvalid(err) {
			t.Errorf("parseAddHosts(%q) = %v, want an invalid-argument error", bad, err)
		}
	}
}

func TestParseDNS(t *testing.T) {
	if _, err := parseDNS([]string{"192.0.2.53", "fd00::53"}); err != nil {
		t.Errorf("parseDNS of good addresses: %v", err)
	}
	if _, err := parseDNS([]string{"dns.example"}); err == nil || !IsInvalid(err) {
		t.Errorf("parseDNS(dns.example) = %v, want an invalid-argument error", err)
	}
}
