package main

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/hutchrt/hutch/network/portspec"
	"github.com/hutchrt/hutch/runtime"
)

var testPorts = []portspec.Mapping{
	{HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
	{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 5353, ContainerPort: 53, Proto: "udp"},
	{HostPort: 8443, ContainerPort: 443, Proto: "tcp"},
}

func TestPortLines(t *testing.T) {
	c := &runtime.Container{Name: "web", Ports: testPorts}
	for _, tt := range []struct {
		filter string
		want   []string
	}{
		{"", []string{"443/tcp -> 0.0.0.0:8443", "53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080"}},
		{"80", []string{"80/tcp -> 0.0.0.0:8080"}},
		{"80/tcp", []string{"80/tcp -> 0.0.0.0:8080"}},
		{"53/udp", []string{"53/udp -> 127.0.0.1:5353"}},
	} {
		got, err := portLines(c, tt.filter)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("portLines(%q) = %q, %v; want %q", tt.filter, got, err, tt.want)
		}
	}
	for _, filter := range []string{"53", "81/tcp", "80/udp"} {
		if got, err := portLines(c, filter); err == nil {
			t.Errorf("portLines(%q) = %q, want an error", filter, got)
		}
	}
	if got, err := portLines(&runtime.Container{Name: "none"}, ""); err != nil || len(got) != 0 {
		t.Errorf("portLines of no ports = %q, %v; want none", got, err)
	}
}

func TestPortsColumn(t *testing.T) {
	want := "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp, 0.0.0.0:8443->443/tcp"
	if got := portsColumn(testPorts); got != want {
		t.Errorf("portsColumn = %q, want %q", got, want)
	}
	if got := portsColumn(nil); got != "" {
		t.Errorf("portsColumn(nil) = %q, want empty", got)
	}
}
