//go:build integration

package integration

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestEventsPull: pull, and create's pull of a missing image, journal an
// image pull event named by the reference (a registry on 127.0.0.1).
func TestEventsPull(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	img, err := mutate.AppendLayers(empty.Image, tarLayer(t, "hello.txt", "hi\n"))
	if err != nil {
		t.Fatal(err)
	}
	img = withConfig(t, img, func(c *v1.ConfigFile) { c.OS, c.Architecture = "linux", "amd64" })
	reg.push(t, "ev/app:1", img)
	reg.push(t, "ev/app:2", img)
	since := time.Now().Format(time.RFC3339Nano)
	e.ok("pull", reg.addr+"/ev/app:1")
	e.ok("rm", e.ok("create", reg.addr+"/ev/app:2", "x"))
	got := e.ok("events", "--since", since, "--until", "0s", "-f", "type=image",
		"--format", `{{.Type}} {{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "name"}} {{.Status}}`)
	want := "image pull " + reg.addr + "/ev/app:1 " + reg.addr + "/ev/app pull\n" +
		"image pull " + reg.addr + "/ev/app:2 " + reg.addr + "/ev/app pull"
	if got != want {
		t.Errorf("events:\n%s\nwant\n%s", got, want)
	}
}
