package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hutchrt/hutch/network/portspec"
	"github.com/hutchrt/hutch/runtime"
)

// portLines is `hutch port`'s: c's published ports, "80/tcp -> 0.0.0.0:8080",
// optionally only those of one container port ("80" or "80/udp").
func portLines(c *runtime.Container, filter string) ([]string, error) {
	if filter != "" && !strings.Contains(filter, "/") {
		filter += "/tcp"
	}
	var out []string
	for _, m := range c.Ports {
		if filter == "" || m.ContainerKey() == filter {
			out = append(out, m.String())
		}
	}
	if filter != "" && len(out) == 0 {
		return nil, fmt.Errorf("no public port '%s' published for %s", filter, c.Name)
	}
	sort.Strings(out)
	return out, nil
}

// portsColumn is `ps`'s PORTS: "0.0.0.0:8080->80/tcp, ...".
func portsColumn(ms []portspec.Mapping) string {
	var parts []string
	for _, m := range ms {
		host := "0.0.0.0"
		if m.HostIP.IsValid() {
			host = m.HostIP.String()
		}
		parts = append(parts, fmt.Sprintf("%s:%d->%s", host, m.HostPort, m.ContainerKey()))
	}
	return strings.Join(parts, ", ")
}
