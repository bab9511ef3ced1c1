package runtime

import (
	"encoding/json"
	"fmt"

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
