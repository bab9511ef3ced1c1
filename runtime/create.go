package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/rootfs"
	"github.com/hutchrt/hutch/runtime/caps"
	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/events"
	"github.com/hutchrt/hutch/runtime/jsonwalk"
	"github.com/hutchrt/hutch/runtime/logs"
	"github.com/hutchrt/hutch/runtime/user"
)

// Images is the image store of this root.
func (s *Store) Images() *rootfs.Store { return imageStore(s.Root) }

// Create checks everything in o, then makes the container's record, spec and
// files. Bad input fails before anything exists.
func (s *Store) Create(o RunOptions) (_ *Container, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	restart, err := o.restartPolicy()
	if err != nil {
		return nil, err
	}
	if err := o.Health.validate(); err != nil {
		return nil, err
	}
	res, err := cgroups.Resources(o.Memory, o.CPUs, o.PidsLimit)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	res.Devices = cgroups.DeviceRules(o.Privileged)
	extras, err := o.specExtras()
	if err != nil {
		return nil, err
	}
	logCfg, err := logs.ParseConfig(o.LogDriver, o.LogOpts)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	capList, err := caps.Resolve(o.CapAdd, o.CapDrop, o.Privileged)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	env, err := o.environment(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	security, err := o.securityOpts()
	if err != nil {
		return nil, err
	}
	labels, err := ParseLabels(o.Labels, o.LabelFiles)
	if err != nil {
		return nil, err
	}
	mounts, err := o.mountRequests()
	if err != nil {
		return nil, err
	}
	images := s.Images()
	img, err := NewImages(s.Root).forRun(o)
	if err != nil {
		return nil, err
	}
	imageName := img.Name
	lowerDirs, err := images.LowerDirs(img)
	if err != nil {
		return nil, err
	}
	lower := strings.Join(lowerDirs, ":") // overlayfs: top layer first
	cfg, err := configOf(img)
	if err != nil {
		return nil, err
	}
	labels = withImageLabels(cfg.Labels, labels)
	args, err := commandLine(cfg, o.Entrypoint, o.Args)
	if err != nil {
		return nil, err
	}
	userSpec, workdir := o.User, o.Workdir
	if userSpec == "" {
		userSpec = cfg.User
	}
	if workdir == "" {
		workdir = cfg.WorkingDir
	}
	env = mergeEnv(cfg.Env, env) // -e and --env-file win over the image's
	stopSig, err := stopSignal(o.StopSignal, cfg)
	if err != nil {
		return nil, err
	}
	if mounts, err = withImageVolumes(mounts, cfg.Volumes); err != nil {
		return nil, err
	}
	exposed, err := exposedPorts(cfg, o.Expose)
	if err != nil {
		return nil, err
	}
	if o.StopTimeout != nil && *o.StopTimeout < 0 {
		return nil, invalidf("invalid stop timeout %d: must be 0 or more seconds", *o.StopTimeout)
	}
	u, err := user.Lookup(userRoot(lowerDirs), userSpec)
	if err != nil {
		return nil, invalidf("%v", err)
	}

	s.reconcileIfDirty() // a command that died leaves leases: give them back first
	id := newID()
	name := o.Name
	if name == "" {
		name = randomName()
	}
	hostname := o.Hostname
	if hostname == "" {
		hostname = id[:12]
		if o.Network == "host" {
			hostname, _ = os.Hostname()
		}
	}
	net, err := s.planNetwork(&o, exposed, id, hostname)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if uerr := net.undo(); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
		net.done() // the record holds the leases now, or they are given back
	}()
	network := net.mode
	dir := s.Dir(id)
	spec := newSpec(specInput{
		ID: id, Dir: dir, LowerDir: lower, Args: args, Env: env,
		Cwd: workdir, Hostname: hostname,
		UID: u.UID, GID: u.GID, AdditionalGids: u.AdditionalGids, Home: u.Home,
		Tty: o.Tty, Caps: caps.Sets(capList, u.UID), NoNewPrivileges: security.noNewPrivileges,
		ReadOnly: o.ReadOnly, Privileged: o.Privileged, Init: o.Init, Volatile: o.AutoRemove,
		Network: network, Resources: res, HostNofileHard: hostNofileHard(),
	})
	extras.apply(spec)
	if spec.Linux.Seccomp, err = seccompProfile(security, o.Privileged, spec); err != nil {
		return nil, err
	}
	if err := s.prepareMounts(mounts); err != nil {
		return nil, err
	}
	s.nameVolumes(mounts)
	spec.Mounts = withUserMounts(spec.Mounts, mounts)
	config, err := encodeSpec(spec)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"config.json": config,
		"hostname":    []byte(hostname + "\n"),
		"hosts":       net.hosts,
		"resolv.conf": net.resolv,
	}
	c := &Container{
		ID: id, Name: name, Image: imageName, Command: args, Created: now(),
		AutoRemove: o.AutoRemove, Init: o.Init, Network: network, Privileged: o.Privileged,
		CapAdd: o.CapAdd, CapDrop: o.CapDrop, SecurityOpt: security.shown, Mounts: mounts, Tty: o.Tty, OpenStdin: o.Interactive,
		Endpoints: net.endpoints, Publish: net.publish, DNS: o.DNS, Host: hostname,
		DNSSearch: o.DNSSearch, DNSOptions: o.DNSOptions,
		LogDriver: logCfg.Driver, LogMaxSize: logCfg.MaxSize, LogMaxFile: logCfg.MaxFile,
		Ulimits: o.Ulimits, Devices: o.Devices, LogOpts: o.LogOpts,
		Exposed: portKeys(exposed), StopSignal: stopSig, StopTimeout: o.StopTimeout,
		Restart: restart, Healthcheck: healthConfig(o.Health, cfg.Healthcheck),
		Status: StatusCreated, spec: spec, ImageID: img.ID, Labels: labels,
	}
	if usesVolumes(mounts) {
		// Held until the record exists: a volume rm cannot slip in between.
		vols := s.Volumes()
		unlock, lockErr := vols.Lock()
		if lockErr != nil {
			return nil, lockErr
		}
		defer unlock()
		var made []string
		defer func() { // err is Create's own: whatever fails below undoes the volumes made here
			if err != nil {
				for _, name := range made {
					if vols.RemoveLocked(name) == nil {
						s.Event(events.Volume, "destroy", name, "driver", "local")
					}
				}
			}
		}()
		if made, err = s.makeVolumes(mounts, lowerDirs); err != nil {
			return nil, err
		}
	}
	var prep *sideTask
	if !o.Detach {
		// The caller is the monitor of a foreground run: claim it now and
		// save the monitor one write of the record.
		if start, err := selfStart(); err == nil {
			c.MonitorPid, c.MonitorStart, c.BootID = os.Getpid(), start, bootID()
		}
		prep = s.prepareStart(c)
	}
	err = s.create(c, files, prep)
	for try := 0; err != nil && errors.Is(err, ErrNameInUse) && o.Name == "" && try < 10; try++ {
		c.Name = randomName() // a generated name that clashed: draw again, as Docker does
		err = s.create(c, files, prep)
	}
	if err != nil {
		return nil, err
	}
	s.containerEvent(c, "create")
	return c, nil
}

// encodeSpec is config.json. jsonwalk writes what encoding/json would,
// without first building an encoder for every type of the OCI spec (0.5 ms).
func encodeSpec(spec *specs.Spec) ([]byte, error) {
	b, err := jsonwalk.MarshalIndent(spec)
	if err != nil {
		return nil, fmt.Errorf("encode config.json: %w", err)
	}
	return b, nil
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

const defaultHosts = `127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
`

func hostsFile(network string) []byte {
	if network == "host" {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			return b
		}
	}
	return []byte(defaultHosts)
}

var nameLeft = []string{"brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nimble", "proud", "quiet", "swift", "tender", "witty"}
var nameRight = []string{"badger", "beaver", "ferret", "hare", "hedgehog", "lynx", "marten", "mole", "otter", "rabbit", "shrew", "stoat", "vole", "weasel", "wren", "yak"}

// randomName is Docker-style adjective_animal plus a suffix to make clashes rare.
func randomName() string {
	b := make([]byte, 3)
	rand.Read(b)
	return fmt.Sprintf("%s_%s_%x", nameLeft[int(b[0])%len(nameLeft)], nameRight[int(b[1])%len(nameRight)], b[2])
}

// IsInvalid reports whether err is the user's mistake rather than hutch's.
func IsInvalid(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrNameInUse) || errors.Is(err, ErrNotFound) || errors.Is(err, rootfs.ErrNotFound)
}

// userRoot is the layer whose /etc/passwd the container sees: the top one that has it (a layer
// that removes it is not looked for: an image without users still runs as root or by number).
func userRoot(lowerDirs []string) string {
	for _, d := range lowerDirs {
		if _, err := os.Lstat(filepath.Join(d, "etc", "passwd")); err == nil {
			return d
		}
	}
	return lowerDirs[len(lowerDirs)-1]
}
