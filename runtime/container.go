package runtime

import (
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/network"
	"github.com/hutchrt/hutch/network/portspec"
	"github.com/hutchrt/hutch/runtime/cgroups"
)

// Status is a container's place in its lifecycle, with Docker's names.
type Status string

const (
	StatusCreated Status = "created" // record made, never started (or start failed)
	StatusRunning Status = "running"
	StatusExited  Status = "exited"
	// Between a run and the next under a restart policy (the monitor waits out the back-off).
	StatusRestarting Status = "restarting"
)

// Container is the persisted record of one container (state.json).
type Container struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Image   string    `json:"image"`
	ImageID string    `json:"imageId,omitempty"` // the image's id when created (inspect's Image)
	Command []string  `json:"command"`
	Host    string    `json:"hostname,omitempty"` // its host name (a DNS name of it, too)
	Created time.Time `json:"created"`

	// What the user asked for that the spec does not carry.
	AutoRemove bool     `json:"autoRemove,omitempty"`
	Init       bool     `json:"init,omitempty"`
	Network    string   `json:"network"` // none, host, container:ID or a network's name
	Tty        bool     `json:"tty,omitempty"`
	OpenStdin  bool     `json:"openStdin,omitempty"` // -i: a detached run keeps stdin open
	Privileged bool     `json:"privileged,omitempty"`
	CapAdd     []string `json:"capAdd,omitempty"`
	CapDrop    []string `json:"capDrop,omitempty"`
	// --security-opt as inspect shows it (a seccomp file by its content, as in Docker).
	SecurityOpt []string `json:"securityOpt,omitempty"`
	// -v, --mount and --tmpfs, with a volume's name and a bind's source.
	Mounts []MountPoint `json:"mounts,omitempty"`
	// What stop sends ("": SIGTERM) and how long it waits by default (nil: 10 s).
	StopSignal  string `json:"stopSignal,omitempty"`
	StopTimeout *int   `json:"stopTimeout,omitempty"`
	// --label and --label-file: shown in inspect's Config.Labels, matched by ps --filter label=.
	Labels map[string]string `json:"labels,omitempty"`
	// --restart, and the loop's state: restarts since the last start by a
	// user, the last back-off (for the next), and whether a user's stop or
	// kill ended the loop (cleared by the next start).
	Restart         RestartPolicy `json:"restartPolicy"`
	RestartCount    int           `json:"restartCount,omitempty"`
	RestartDelay    time.Duration `json:"restartDelay,omitempty"`
	ManuallyStopped bool          `json:"manuallyStopped,omitempty"`
	// The health check (nil: none) and its state, kept by the prober (health_linux.go).
	Healthcheck *HealthConfig `json:"healthcheck,omitempty"`
	Health      *HealthState  `json:"health,omitempty"`

	// Networking: addresses from create to rm; Ports only while running.
	Endpoints []*network.Endpoint `json:"endpoints,omitempty"`
	Publish   []portspec.Mapping  `json:"publish,omitempty"` // what -p (and -P) asked for
	Exposed   []string            `json:"exposed,omitempty"` // the image's ExposedPorts and --expose: "80/tcp"
	Ports     []portspec.Mapping  `json:"ports,omitempty"`   // published now, every host port known
	DNS       []string            `json:"dns,omitempty"`     // --dns: the embedded resolver's upstreams
	// --dns-search and --dns-option, kept for a resolv.conf rewritten by network connect
	DNSSearch  []string `json:"dnsSearch,omitempty"`
	DNSOptions []string `json:"dnsOptions,omitempty"`
	// --log-driver and --log-opt ("" is json-file; 0: no rotation)
	LogDriver  string `json:"logDriver,omitempty"`
	LogMaxSize int64  `json:"logMaxSize,omitempty"`
	LogMaxFile int    `json:"logMaxFile,omitempty"`
	// --ulimit, --device and --log-opt as given (inspect shows them; the spec has what they became)
	Ulimits []string `json:"ulimits,omitempty"`
	Devices []string `json:"devices,omitempty"`
	LogOpts []string `json:"logOpts,omitempty"`

	Status     Status    `json:"status"`
	Paused     bool      `json:"paused,omitempty"` // frozen by pause; meaningful while running
	ExitCode   int       `json:"exitCode"`
	OOMKilled  bool      `json:"oomKilled,omitempty"`
	Error      string    `json:"error,omitempty"` // why the last start failed
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`

	// Processes of the current run. A pid alone can be reused after the process
	// dies, so each is stored with its start time and the boot it belongs to.
	Pid          int    `json:"pid,omitempty"`
	PidStart     uint64 `json:"pidStart,omitempty"`
	MonitorPid   int    `json:"monitorPid,omitempty"`
	MonitorStart uint64 `json:"monitorStart,omitempty"`
	BootID       string `json:"bootId,omitempty"`

	// For a monitor in the same process as Create; not saved.
	spec   *specs.Spec     // the spec Create made
	cgroup *cgroups.Cgroup // the group Create made alongside the record
}

// ShortID is the 12-character id Docker shows.
func (c *Container) ShortID() string {
	if len(c.ID) < 12 {
		return c.ID
	}
	return c.ID[:12]
}

// Running reports whether the record says the container is running. Load
// reconciles records with the processes they name, so this is current.
func (c *Container) Running() bool { return c.Status == StatusRunning }

// Restarting reports whether the container waits out a restart back-off.
func (c *Container) Restarting() bool { return c.Status == StatusRestarting }

// IsPaused reports whether the container runs frozen (pause).
func (c *Container) IsPaused() bool { return c.Running() && c.Paused }
