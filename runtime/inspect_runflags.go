package runtime

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runFlagsHost is the part of inspect's HostConfig the flags of
// runflags.go fill, with Docker's keys and shapes.
type runFlagsHost struct {
	Ulimits      []Ulimit          `json:"Ulimits"`
	Sysctls      map[string]string `json:"Sysctls,omitempty"`
	Devices      []DeviceMapping   `json:"Devices"`
	ShmSize      int64             `json:"ShmSize"`
	CgroupnsMode string            `json:"CgroupnsMode"`
	DNSSearch    []string          `json:"DnsSearch"`
	DNSOptions   []string          `json:"DnsOptions"`
	LogConfig    LogConfig         `json:"LogConfig"`
}

// Ulimit is one --ulimit, Docker's shape.
type Ulimit struct {
	Name string `json:"Name"`
	Hard int64  `json:"Hard"`
	Soft int64  `json:"Soft"`
}

// DeviceMapping is one --device, Docker's shape.
type DeviceMapping struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

// LogConfig is --log-driver and --log-opt, Docker's shape.
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// runFlagsHostOf reads them back from the record and the spec.
func runFlagsHostOf(c *Container, spec *specs.Spec) runFlagsHost {
	h := runFlagsHost{Sysctls: spec.Linux.Sysctl, CgroupnsMode: "host",
		DNSSearch: orEmpty(c.DNSSearch), DNSOptions: orEmpty(c.DNSOptions), Devices: []DeviceMapping{}}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			h.CgroupnsMode = "private"
		}
	}
	for _, r := range spec.Process.Rlimits {
		if r.Type == "RLIMIT_NOFILE" && !c.nofileSet() {
			continue // hutch's default, not the user's
		}
		h.Ulimits = append(h.Ulimits, Ulimit{Name: strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_")), Hard: int64(r.Hard), Soft: int64(r.Soft)})
	}
	for _, v := range c.Devices {
		if d, err := parseDevice(v); err == nil {
			h.Devices = append(h.Devices, DeviceMapping{PathOnHost: d.Host, PathInContainer: d.Ctr, CgroupPermissions: d.Access})
		}
	}
	for _, m := range spec.Mounts {
		if m.Destination != "/dev/shm" {
			continue
		}
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "size="); ok {
				h.ShmSize, _ = parseTmpfsSize(v)
			}
		}
	}
	h.LogConfig = LogConfig{Type: c.logConfig().Driver, Config: map[string]string{}}
	for _, o := range c.LogOpts { // as typed, as Docker shows them
		for _, kv := range strings.Split(o, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				h.LogConfig.Config[k] = v
			}
		}
	}
	return h
}

// nofileSet reports whether --ulimit set nofile (else the spec's is the default).
func (c *Container) nofileSet() bool {
	for _, u := range c.Ulimits {
		if strings.HasPrefix(u, "nofile=") {
			return true
		}
	}
	return false
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
