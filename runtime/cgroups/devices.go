package cgroups

import (
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DeviceRules returns the device cgroup rules of a container, in the order
// they apply: Docker's default (as runc's specconv AllowedDevices), which
// denies every device, then allows mknod of any node and read, write and
// mknod of the standard ones (those hutch makes in /dev, plus /dev/console,
// the ptys, /dev/ptmx and /dev/net/tun). With CAP_MKNOD a container's root
// can make a node for any host device, e.g. the host's disk; the rules
// keep it from opening it. privileged allows every device, as Docker does.
func DeviceRules(privileged bool) []specs.LinuxDeviceCgroup {
	if privileged {
		return []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Access: "m"},
		{Allow: true, Type: "b", Access: "m"},
	}
	for _, d := range [][2]int64{
		{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, // null, zero, full, random, urandom
		{5, 0}, {5, 1}, {5, 2}, // tty, console, ptmx
		{136, -1}, // the ptys of /dev/pts
		{10, 200}, // /dev/net/tun
	} {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(d[0]), Access: "rwm"}
		if d[1] >= 0 {
			r.Minor = ptr(d[1])
		}
		rules = append(rules, r)
	}
	return rules
}

func ptr(n int64) *int64 { return &n }

// v1DeviceSettings renders device rules for the v1 devices controller: one
// line to devices.allow or devices.deny each, in order. A rule for every
// device ("a") resets the group's list to allow or deny all, so a rule
// list starting with a deny-all is a whitelist.
func v1DeviceSettings(rules []specs.LinuxDeviceCgroup) []setting {
	var s []setting
	for _, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		s = append(s, setting{controller: "devices", file: file, value: v1DeviceRule(r), what: "device rules"})
	}
	return s
}

// v1DeviceRule is r in the kernel's "type major:minor access" form, "a"
// for every device. An empty access means all of "rwm", as in runc.
func v1DeviceRule(r specs.LinuxDeviceCgroup) string {
	if r.Type == "" || r.Type == "a" {
		return "a"
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	return r.Type + " " + number(r.Major) + ":" + number(r.Minor) + " " + access
}

// number is a major or minor number, "*" for any.
func number(n *int64) string {
	if n == nil || *n < 0 {
		return "*"
	}
	return strconv.FormatInt(*n, 10)
}
