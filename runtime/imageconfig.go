package runtime

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"

	"github.com/hutchrt/hutch/network/portspec"

	"github.com/hutchrt/hutch/rootfs"
)

// imageConfig is the part of an OCI image config that `run` honours.
type imageConfig struct {
	Entrypoint   []string            `json:"Entrypoint"`
	Cmd          []string            `json:"Cmd"`
	Env          []string            `json:"Env"`
	WorkingDir   string              `json:"WorkingDir"`
	User         string              `json:"User"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	StopSignal   string              `json:"StopSignal"`
	Volumes      map[string]struct{} `json:"Volumes"`
	Labels       map[string]string   `json:"Labels"`
	Healthcheck  *HealthConfig       `json:"Healthcheck"` // Docker's HEALTHCHECK
}

// stopSignal is the signal `stop` sends: --stop-signal, else the image's StopSignal, else
// SIGTERM (Docker's order). It is kept by name, as inspect shows it.
func stopSignal(flag string, cfg imageConfig) (string, error) {
	name := flag
	if name == "" {
		name = cfg.StopSignal
	}
	if name == "" {
		return "", nil
	}
	if _, err := ParseSignal(name); err != nil {
		return "", invalidf("invalid stop signal %q", name)
	}
	return name, nil
}

// configOf reads a pulled image's config. An image without one (busybox, an import) runs sh,
// as Docker's busybox image does.
func configOf(img rootfs.Image) (imageConfig, error) {
	if len(img.Config) == 0 {
		return imageConfig{Cmd: []string{"sh"}}, nil
	}
	var file struct {
		Config imageConfig `json:"config"`
	}
	if err := json.Unmarshal(img.Config, &file); err != nil {
		return imageConfig{}, fmt.Errorf("image %s: config: %w", img.Name, err)
	}
	return file.Config, nil
}

// commandLine combines the image's Entrypoint and Cmd with run's --entrypoint and arguments by
// Docker's rules: arguments replace Cmd; --entrypoint replaces Entrypoint and drops the image's
// Cmd, and an empty --entrypoint clears it.
func commandLine(cfg imageConfig, entrypoint *string, args []string) ([]string, error) {
	entry, cmd := cfg.Entrypoint, cfg.Cmd
	if entrypoint != nil {
		entry, cmd = nil, nil
		if *entrypoint != "" {
			entry = []string{*entrypoint}
		}
	}
	if len(args) > 0 {
		cmd = args
	}
	line := append(append([]string{}, entry...), cmd...)
	if len(line) == 0 {
		return nil, invalidf("no command specified")
	}
	return line, nil
}

// exposedPorts are the image's ExposedPorts and run's --expose, once each, the image's first.
func exposedPorts(cfg imageConfig, flags []string) ([]portspec.Mapping, error) {
	keys := make([]string, 0, len(cfg.ExposedPorts))
	for k := range cfg.ExposedPorts {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a map: the same order on every run
	var all []portspec.Mapping
	seen := map[string]bool{}
	for _, spec := range append(keys, flags...) {
		ms, err := portspec.ParseExpose(spec)
		if err != nil {
			return nil, invalidf("%v", err)
		}
		for _, m := range ms {
			if !seen[m.ContainerKey()] {
				seen[m.ContainerKey()] = true
				all = append(all, m)
			}
		}
	}
	return all, nil
}

// publishAll is -P: every exposed port that no -p publishes gets a host port
// the kernel picks, as `-p PORT` does; a -p of the same port wins, as in Docker.
func publishAll(publish, exposed []portspec.Mapping) []portspec.Mapping {
	published := map[string]bool{}
	for _, m := range publish {
		published[m.ContainerKey()] = true
	}
	for _, m := range exposed {
		if !published[m.ContainerKey()] {
			publish = append(publish, m)
		}
	}
	return publish
}

// portKeys are ms's container sides ("80/tcp"), as inspect's Config.ExposedPorts keys.
func portKeys(ms []portspec.Mapping) []string {
	keys := make([]string, 0, len(ms))
	for _, m := range ms {
		keys = append(keys, m.ContainerKey())
	}
	return keys
}

// withImageVolumes adds an anonymous volume (as `-v PATH`) for each of the image's Volumes that
// no -v, --mount or --tmpfs already targets, as Docker does.
func withImageVolumes(mounts []MountPoint, vols map[string]struct{}) ([]MountPoint, error) {
	paths := make([]string, 0, len(vols))
	for p := range vols {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	taken := map[string]bool{}
	for _, m := range mounts {
		taken[path.Clean(m.Destination)] = true
	}
	for _, p := range paths {
		if taken[path.Clean(p)] {
			continue
		}
		m, err := parseVolumeFlag(p)
		if err != nil {
			return nil, invalidf("image volume %q: %v", p, err)
		}
		taken[path.Clean(p)] = true
		mounts = append(mounts, m)
	}
	return mounts, nil
}
