package runtime

import (
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hutchrt/hutch/runtime/cgroups"
	"github.com/hutchrt/hutch/runtime/oci"
)

// planFds says where the init finds the descriptors its plan names.
type planFds struct {
	netns int   // the namespace of --network container:NAME, -1 if none
	tasks []int // the v1 cgroups' tasks files
	// cgroup is the container's group, made before the clone: its
	// directories are bound where the spec mounts "cgroup".
	cgroup *cgroups.Cgroup
}

// buildInitPlan is the init plan of a hutch container: the OCI core's
// (oci.BuildInit), with the overlay on the image's layers in dir, the wait
// for the monitor's "run" (once it has wired the network) and --init, all
// from the spec's hutch annotations.
func buildInitPlan(spec *specs.Spec, dir string, fds planFds, host oci.HostFacts) (*oci.Plan, error) {
	o := oci.InitOptions{ExecFifo: -1, Tasks: fds.tasks, Reap: spec.Annotations[annotInit] == "true"}
	if hasCgroupMount(spec) && fds.cgroup != nil {
		// The container's groups, bound at /sys/fs/cgroup: its own limits.
		o.CgroupBinds = oci.CgroupBinds(fds.cgroup)
	}
	if lower := spec.Annotations[annotLowerDir]; lower != "" {
		o.Overlay = &oci.Overlay{Lower: lower, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
			Volatile: spec.Annotations[annotVolatile] == "true"}
	}
	if fds.netns >= 0 {
		o.Join = append(o.Join, oci.NsFd{Fd: fds.netns, Kind: "net"})
	}
	if spec.Annotations[annotNetwork] == "host" {
		// The host's name, as the UTS namespace was cloned with it.
		s := *spec
		s.Hostname = ""
		spec = &s
	}
	p, err := oci.BuildInit(spec, o, host)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	return p, nil
}

func hasCgroupMount(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			return true
		}
	}
	return false
}
