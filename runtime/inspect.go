package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Details is `hutch inspect`'s view of a container, in Docker's shape (the
// subset hutch has).
type Details struct {
	ID              string          `json:"Id"`
	Created         time.Time       `json:"Created"`
	Path            string          `json:"Path"`
	Args            []string        `json:"Args"`
	State           StateDetails    `json:"State"`
	Image           string          `json:"Image"`
	Name            string          `json:"Name"`
	RestartCount    int             `json:"RestartCount"`
	LogPath         string          `json:"LogPath"`
	ResolvConfPath  string          `json:"ResolvConfPath"`
	HostnamePath    string          `json:"HostnamePath"`
	HostsPath       string          `json:"HostsPath"`
	Driver          string          `json:"Driver"`
	Platform        string          `json:"Platform"`
	GraphDriver     GraphDriver     `json:"GraphDriver"`
	HostConfig      HostConfig      `json:"HostConfig"`
	Mounts          []MountDetails  `json:"Mounts"`
	Config          ConfigDetails   `json:"Config"`
	NetworkSettings NetworkSettings `json:"NetworkSettings"`
}

// GraphDriver is where the container's filesystem lives: the image's
// layers below, its own upper directory, the merged root it sees.
type GraphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

type StateDetails struct {
	Status     Status       `json:"Status"`
	Running    bool         `json:"Running"`
	Paused     bool         `json:"Paused"`
	Restarting bool         `json:"Restarting"`
	OOMKilled  bool         `json:"OOMKilled"`
	Dead       bool         `json:"Dead"`
	Pid        int          `json:"Pid"`
	ExitCode   int          `json:"ExitCode"`
	Error      string       `json:"Error"`
	StartedAt  time.Time    `json:"StartedAt"`
	FinishedAt time.Time    `json:"FinishedAt"`
	Health     *HealthState `json:"Health,omitempty"`
}

type HostConfig struct {
	NetworkMode    string        `json:"NetworkMode"`
	RestartPolicy  RestartPolicy `json:"RestartPolicy"`
	AutoRemove     bool          `json:"AutoRemove"`
	Privileged     bool          `json:"Privileged"`
	ReadonlyRootfs bool          `json:"ReadonlyRootfs"`
	Init           bool          `json:"Init"`
	CapAdd         []string      `json:"CapAdd"`
	CapDrop        []string      `json:"CapDrop"`
	Memory         int64         `json:"Memory"`
	NanoCpus       int64         `json:"NanoCpus"`
	PidsLimit      int64         `json:"PidsLimit"`
	SecurityOpt    []string      `json:"SecurityOpt"`

	Binds  []string          `json:"Binds"`           // -v SOURCE:TARGET[:OPTIONS] as given
	Tmpfs  map[string]string `json:"Tmpfs,omitempty"` // --tmpfs: target to its options
	Mounts []HostMount       `json:"Mounts,omitempty"`

	runFlagsHost // --ulimit, --sysctl, --device, --shm-size, --log-*, ... (inspect_runflags.go)
}

// HostMount is one --mount in HostConfig.Mounts, Docker's shape.
type HostMount struct {
	Type     string `json:"Type"`
	Source   string `json:"Source,omitempty"`
	Target   string `json:"Target"`
	ReadOnly bool   `json:"ReadOnly,omitempty"`
}

// hostMounts fills HostConfig's Binds, Tmpfs and Mounts as Docker does: each from its own
// flag, an anonymous -v in none of them.
func (h *HostConfig) hostMounts(mounts []MountPoint) {
	for _, m := range mounts {
		switch m.Flag {
		case "-v":
			if !m.Anonymous {
				h.Binds = append(h.Binds, m.Spec)
			}
		case "--tmpfs":
			if h.Tmpfs == nil {
				h.Tmpfs = map[string]string{}
			}
			_, opts, _ := strings.Cut(m.Spec, ":")
			h.Tmpfs[m.Destination] = opts
		case "--mount":
			hm := HostMount{Type: m.Type, Source: m.Source, Target: m.Destination, ReadOnly: m.ReadOnly}
			if m.Type == "volume" {
				hm.Source = m.Name
			}
			h.Mounts = append(h.Mounts, hm)
		}
	}
}

type MountDetails struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver,omitempty"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

// mountDetails is Docker's Mounts: a bind shows its propagation, a volume
// its name and driver.
func mountDetails(mounts []MountPoint) []MountDetails {
	out := []MountDetails{}
	for _, m := range mounts {
		if m.Flag == "--tmpfs" {
			continue // Docker shows these in HostConfig.Tmpfs only
		}
		d := MountDetails{Type: m.Type, Source: m.Source, Destination: m.Destination, Mode: m.Mode, RW: !m.ReadOnly}
		switch m.Type {
		case "bind":
			d.Propagation = "rprivate"
		case "volume":
			d.Name, d.Driver = m.Name, "local"
		}
		out = append(out, d)
	}
	return out
}

type ConfigDetails struct {
	Hostname     string              `json:"Hostname"`
	User         string              `json:"User"`
	Tty          bool                `json:"Tty"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Image        string              `json:"Image"`
	WorkingDir   string              `json:"WorkingDir"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	StopTimeout  *int                `json:"StopTimeout,omitempty"`
	Labels       map[string]string   `json:"Labels"`
	Healthcheck  *HealthConfig       `json:"Healthcheck,omitempty"`
}

type NetworkSettings struct {
	Ports       map[string][]PortBinding   `json:"Ports"`
	IPAddress   string                     `json:"IPAddress"`
	IPPrefixLen int                        `json:"IPPrefixLen"`
	Gateway     string                     `json:"Gateway"`
	MacAddress  string                     `json:"MacAddress"`
	Networks    map[string]EndpointDetails `json:"Networks"`
}

type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

type EndpointDetails struct {
	NetworkID   string   `json:"NetworkID"`
	IPAddress   string   `json:"IPAddress"`
	IPPrefixLen int      `json:"IPPrefixLen"`
	Gateway     string   `json:"Gateway"`
	MacAddress  string   `json:"MacAddress"`
	Aliases     []string `json:"Aliases"`
	Interface   string   `json:"Interface"`     // inside the container
	HostIf      string   `json:"HostInterface"` // the veth's host end
}

// networkSettings is Docker's NetworkSettings: the first network's address
// at the top level, every network below, and the ports published now (or,
// when stopped, the ones asked for with no host binding yet).
func networkSettings(c *Container) NetworkSettings {
	ns := NetworkSettings{Ports: map[string][]PortBinding{}, Networks: map[string]EndpointDetails{}}
	for i, ep := range c.Endpoints {
		d := EndpointDetails{
			NetworkID: ep.NetworkID, IPAddress: ep.IP.String(), IPPrefixLen: ep.PrefixLen, Gateway: ep.Gateway.String(),
			MacAddress: ep.MAC(), Aliases: ep.Aliases, Interface: ep.IfName, HostIf: ep.HostIf,
		}
		if d.Aliases == nil {
			d.Aliases = []string{}
		}
		ns.Networks[ep.Network] = d
		if i == 0 {
			ns.IPAddress, ns.IPPrefixLen, ns.Gateway, ns.MacAddress = d.IPAddress, d.IPPrefixLen, d.Gateway, d.MacAddress
		}
	}
	for _, k := range c.Exposed { // exposed, not published: a key with no bindings, as Docker
		ns.Ports[k] = nil
	}
	for _, m := range c.Publish {
		ns.Ports[m.ContainerKey()] = nil
	}
	for _, m := range c.Ports {
		host := "0.0.0.0"
		if m.HostIP.IsValid() {
			host = m.HostIP.String()
		}
		ns.Ports[m.ContainerKey()] = append(ns.Ports[m.ContainerKey()], PortBinding{HostIP: host, HostPort: strconv.Itoa(int(m.HostPort))})
	}
	return ns
}

// Inspect describes one container.
func (s *Store) Inspect(ref string) (*Details, error) {
	c, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(c.ID), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", c.Name, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", c.Name, err)
	}
	d := details(c, &spec, s.Dir(c.ID))
	if p := pseudoNetwork(s.Root, c.Network); p != nil && (c.Network == "host" || c.Network == "none") {
		// Docker lists host and none under Networks too, with no address.
		d.NetworkSettings.Networks[p.Name] = EndpointDetails{NetworkID: p.ID, Aliases: []string{}}
	}
	return d, nil
}

func details(c *Container, spec *specs.Spec, dir string) *Details {
	p := spec.Process
	status := c.Status
	if c.IsPaused() {
		status = "paused" // Docker's State.Status of a frozen container
	}
	d := &Details{
		ID: c.ID, Created: c.Created, Path: c.Command[0], Args: c.Command[1:],
		State: StateDetails{
			// Docker's Running stays true through a restart back-off.
			Status: status, Running: c.Running() || c.Restarting(), Paused: c.IsPaused(), Restarting: c.Restarting(),
			Pid: c.Pid, ExitCode: c.ExitCode, OOMKilled: c.OOMKilled,
			Error: c.Error, StartedAt: c.StartedAt, FinishedAt: c.FinishedAt, Health: inspectHealth(c),
		},
		Image: imageID(c), Name: "/" + c.Name, LogPath: filepath.Join(dir, "ctr.log"), RestartCount: c.RestartCount,
		ResolvConfPath: filepath.Join(dir, "resolv.conf"), HostnamePath: filepath.Join(dir, "hostname"),
		HostsPath: filepath.Join(dir, "hosts"), Driver: "overlay", Platform: "linux",
		GraphDriver: GraphDriver{Name: "overlay", Data: map[string]string{
			"LowerDir": spec.Annotations[annotLowerDir], "UpperDir": filepath.Join(dir, "upper"),
			"WorkDir": filepath.Join(dir, "work"), "MergedDir": filepath.Join(dir, "rootfs"),
		}},
		HostConfig: HostConfig{
			NetworkMode: c.Network, RestartPolicy: restartPolicyOf(c), AutoRemove: c.AutoRemove, Privileged: c.Privileged,
			ReadonlyRootfs: spec.Root.Readonly, Init: c.Init,
		},
		Mounts: mountDetails(c.Mounts),
		Config: ConfigDetails{
			Hostname: spec.Hostname, User: fmt.Sprintf("%d:%d", p.User.UID, p.User.GID), Tty: p.Terminal,
			Env: p.Env, Cmd: c.Command, Image: c.Image, WorkingDir: p.Cwd,
			StopSignal: c.StopSignal, StopTimeout: c.StopTimeout, Labels: c.Labels, Healthcheck: c.Healthcheck,
		},
		NetworkSettings: networkSettings(c),
	}
	if d.Config.Labels == nil {
		d.Config.Labels = map[string]string{} // Docker shows {}
	}
	// Exposed: the image's, --expose's and, as in Docker, every published port's.
	exposed := slices.Clone(c.Exposed)
	for _, m := range c.Publish {
		exposed = append(exposed, m.ContainerKey())
	}
	for _, k := range exposed {
		if d.Config.ExposedPorts == nil {
			d.Config.ExposedPorts = map[string]struct{}{}
		}
		d.Config.ExposedPorts[k] = struct{}{}
	}
	d.HostConfig.CapAdd, d.HostConfig.CapDrop = c.CapAdd, c.CapDrop
	d.HostConfig.hostMounts(c.Mounts)
	d.HostConfig.runFlagsHost = runFlagsHostOf(c, spec)
	d.HostConfig.SecurityOpt = c.SecurityOpt
	if p.NoNewPrivileges && len(c.SecurityOpt) == 0 { // a record from before SecurityOpt was kept
		d.HostConfig.SecurityOpt = []string{"no-new-privileges"}
	}
	if r := spec.Linux.Resources; r != nil {
		if r.Memory != nil && r.Memory.Limit != nil {
			d.HostConfig.Memory = *r.Memory.Limit
		}
		if r.CPU != nil && r.CPU.Quota != nil && r.CPU.Period != nil && *r.CPU.Period > 0 {
			d.HostConfig.NanoCpus = *r.CPU.Quota * 1e9 / int64(*r.CPU.Period)
		}
		if r.Pids != nil && r.Pids.Limit != nil {
			d.HostConfig.PidsLimit = *r.Pids.Limit
		}
	}
	return d
}

// imageID is inspect's Image: the id of the image the container was made
// from, as Docker shows it (a record from before ids were kept: its name).
func imageID(c *Container) string {
	switch {
	case c.ImageID == "":
		return c.Image
	case strings.HasPrefix(c.ImageID, "sha256:"):
		return c.ImageID
	}
	return "sha256:" + c.ImageID
}
