//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestFormatPs: ps --format with Docker's fields, functions and table
// headers; filters OR'd per key and AND'd across keys; -n, -l, --no-trunc,
// -s; a bad template or filter key is one line and exit 1.
func TestFormatPs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("network", "create", "--label", "env=test", "fmtnet")
	web := e.lcRunDetached("--name", "web", "--network", "fmtnet", "--label", "app=shop", "--label", "tier=front", "-p", "127.0.0.1::80",
		"busybox", "sleep", "100")
	hostPort := e.ok("inspect", "-f", `{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`, "web")
	e.run("run", "--name", "job", "-l", "app=batch", "-v", "/data", "busybox", "sh", "-c", "echo hi > /out; exit 3")
	list := func(args ...string) []string { return lcLines(e.ok(append([]string{"ps"}, args...)...)) }

	// Docker's documented examples: `{{.ID}}: {{.Command}}` and a table with labels.
	if got := list("--format", "{{.ID}}: {{.Command}}"); !slices.Equal(got, []string{web[:12] + `: "sleep 100"`}) {
		t.Errorf("ps --format '{{.ID}}: {{.Command}}' = %q", got)
	}
	got := list("-a", "--format", `table {{.ID}}\t{{.Labels}}`)
	if len(got) != 3 || !regexp.MustCompile(`^CONTAINER ID\s+LABELS$`).MatchString(got[0]) ||
		!regexp.MustCompile(`^[0-9a-f]{12}\s+app=batch$`).MatchString(got[1]) ||
		!regexp.MustCompile(`^`+web[:12]+`\s+app=shop,tier=front$`).MatchString(got[2]) {
		t.Errorf("ps -a --format 'table {{.ID}}\\t{{.Labels}}' =\n%s", strings.Join(got, "\n"))
	}
	got = list("-a", "--format", `{{.Names}} {{upper .State}} {{.Label "app"}} {{.Networks}} {{join (split .Labels ",") ";"}} {{truncate .Image 4}}`)
	if !slices.Equal(got, []string{"job EXITED batch bridge app=batch busy", "web RUNNING shop fmtnet app=shop;tier=front busy"}) {
		t.Errorf("ps with template functions = %q", got)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(e.ok("ps", "--format", "json")), &row); err != nil || row["Names"] != "web" || row["State"] != "running" ||
		!strings.HasPrefix(row["Status"], "Up ") || row["Labels"] != "app=shop,tier=front" {
		t.Errorf("ps --format json = %v (%v)", row, err)
	}

	// Filters.
	names := func(args ...string) []string {
		return lcLines(e.ok(append([]string{"ps", "--format", "{{.Names}}"}, args...)...))
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-f", "label=app=shop"}, []string{"web"}},
		{[]string{"-a", "-f", "label=app"}, []string{"job", "web"}},
		{[]string{"-a", "-f", "label=tier=back"}, nil},
		{[]string{"-f", "status=exited"}, []string{"job"}}, // no -a needed, as in Docker
		{[]string{"-f", "exited=3"}, nil},                  // "only useful with --all", as Docker's docs say
		{[]string{"-a", "-f", "exited=3"}, []string{"job"}},
		{[]string{"-a", "-f", "exited=0"}, nil},
		{[]string{"-f", "since=web"}, []string{"job"}}, // since and before include non-running ones
		{[]string{"-f", "before=job"}, []string{"web"}},
		{[]string{"-a", "-f", "expose=80"}, []string{"web"}},
		{[]string{"-a", "-f", "publish=" + hostPort + "/tcp"}, []string{"web"}},
		{[]string{"-a", "-f", "publish=1"}, nil},
		{[]string{"-a", "-f", "volume=/data"}, []string{"job"}},
		{[]string{"-a", "-f", "name=web", "-f", "name=job"}, []string{"job", "web"}}, // one key: OR
		{[]string{"-a", "-f", "name=web", "-f", "status=exited"}, nil},               // two keys: AND
		{[]string{"-a", "-f", "id=" + web[:5]}, []string{"web"}},
		{[]string{"-a", "-f", "network=fmtnet"}, []string{"web"}},
		{[]string{"-a", "-f", "ancestor=busybox"}, []string{"job", "web"}},
		{[]string{"-a", "-f", "ancestor=busybox:latest", "-f", "status=running"}, []string{"web"}},
		{[]string{"-n", "1"}, []string{"job"}},
		{[]string{"-l"}, []string{"job"}},
		{[]string{"-a", "-n", "5"}, []string{"job", "web"}},
	} {
		if got := names(tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("ps %q = %q, want %q", tc.args, got, tc.want)
		}
	}
	if got := list("-q", "--no-trunc", "-f", "name=web"); !slices.Equal(got, []string{web}) {
		t.Errorf("ps -q --no-trunc = %q, want [%s]", got, web)
	}
	// -s: a SIZE column, "3B (virtual 1.98MB)": the bytes written, then with the image.
	sized := list("-a", "-s", "-f", "name=job")
	if len(sized) != 2 || !strings.HasSuffix(sized[0], "NAMES     SIZE") ||
		!regexp.MustCompile(`\sjob\s+3B \(virtual [0-9.]+MB\)$`).MatchString(sized[1]) {
		t.Errorf("ps -s =\n%s", strings.Join(sized, "\n"))
	}

	// Bad input: one line, exit 1, nothing printed.
	r := e.fails(1, `template parsing error: template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type`, "ps", "--format", "{{.Foo}}")
	if r.stdout != "" {
		t.Errorf("ps with a bad template printed %q", r.stdout)
	}
	e.fails(1, "template parsing error: template: :1: unclosed action", "ps", "--format", "{{.ID")
	e.fails(1, "invalid filter 'color'", "ps", "-f", "color=red")
	e.fails(1, "invalid filter 'status=sleeping'", "ps", "-f", "status=sleeping")
	e.fails(1, "bad format of filter", "ps", "-f", "name")
	e.fails(1, "invalid filter 'publish=http'", "ps", "-f", "publish=http")
	e.fails(1, "nosuch", "ps", "-f", "since=nosuch")
}

// TestFormatInspect: inspect -f over Docker's keys (the documented
// examples: an address, the log path, a JSON block, ports), labels from
// --label and --label-file, Image as an id; an unknown key is Docker's
// message and exit 1; a bad label leaves nothing.
func TestFormatInspect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("network", "create", "fmtnet2")
	file := t.TempDir() + "/labels"
	if err := os.WriteFile(file, []byte("# team labels\nowner=ops\n\napp=from-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := e.lcRunDetached("--name", "box", "--network", "fmtnet2", "-p", "127.0.0.1::80", "-l", "app=shop", "--label-file", file,
		"busybox", "sleep", "100")
	raw := e.ok("inspect", "box")
	var ds []struct {
		Image           string
		LogPath         string
		Config          struct{ Labels map[string]string }
		NetworkSettings struct {
			Networks map[string]struct{ IPAddress, Gateway, MacAddress string }
			Ports    map[string][]struct{ HostPort string }
		}
	}
	if err := json.Unmarshal([]byte(raw), &ds); err != nil || len(ds) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	d := ds[0]
	ep := d.NetworkSettings.Networks["fmtnet2"]
	if ep.IPAddress == "" || ep.Gateway == "" || ep.MacAddress == "" {
		t.Fatalf("inspect: Networks %+v", d.NetworkSettings.Networks)
	}
	want := map[string]string{"app": "shop", "owner": "ops"} // a flag wins over the file
	if len(d.Config.Labels) != 2 || d.Config.Labels["app"] != "shop" || d.Config.Labels["owner"] != "ops" {
		t.Errorf("Config.Labels = %v, want %v", d.Config.Labels, want)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(d.Image) {
		t.Errorf("Image = %q, want the image's id", d.Image)
	}
	imgID := e.ok("images", "--no-trunc", "--format", "{{.ID}}")
	if !strings.Contains(imgID, d.Image) {
		t.Errorf("Image %s is not busybox's id (images: %q)", d.Image, imgID)
	}
	hostPort := d.NetworkSettings.Ports["80/tcp"][0].HostPort
	for format, want := range map[string]string{
		"{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}":   ep.IPAddress,
		"{{.NetworkSettings.Networks.fmtnet2.Gateway}}":              ep.Gateway,
		`{{(index .NetworkSettings.Networks "fmtnet2").MacAddress}}`: ep.MacAddress,
		"{{.LogPath}}":            d.LogPath,
		"{{json .Config.Labels}}": `{"app":"shop","owner":"ops"}`,
		"{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}": "80/tcp -> " + hostPort,
		"{{.State.Status}} {{.State.Running}} {{.State.Paused}} {{.State.ExitCode}} {{.Name}}":       "running true false 0 /box",
		`{{index .Config.Labels "owner"}} {{.HostConfig.NetworkMode}} {{.Id}}`:                       "ops fmtnet2 " + id,
	} {
		if got := e.ok("inspect", "-f", format, "box"); got != want {
			t.Errorf("inspect -f %q = %q, want %q", format, got, want)
		}
	}
	// Docker's file paths and GraphDriver: each names what is there.
	paths := strings.Fields(e.ok("inspect", "-f", "{{.ResolvConfPath}} {{.HostsPath}} {{.HostnamePath}} {{.GraphDriver.Data.UpperDir}} {{.GraphDriver.Data.MergedDir}}", "box"))
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("inspect names %s: %v", p, err)
		}
	}
	if len(paths) != 5 || e.ok("inspect", "-f", "{{.Driver}} {{.Platform}} {{.GraphDriver.Name}}", "box") != "overlay linux overlay" {
		t.Errorf("inspect paths %q, Driver/Platform/GraphDriver wrong", paths)
	}
	if got := lcLines(e.ok("inspect", "--format", "{{.Name}}", "box", id)); !slices.Equal(got, []string{"/box", "/box"}) {
		t.Errorf("inspect --format of two = %q", got)
	}
	r := e.fails(1, `template parsing error: template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"`, "inspect", "-f", "{{.Foo}}", "box")
	if r.stdout != "" {
		t.Errorf("inspect with an unknown key printed %q", r.stdout)
	}

	before := e.ids()
	e.fails(125, `invalid label "=x"`, "run", "-l", "=x", "busybox", "true")
	e.fails(125, "label file", "run", "--label-file", "/nonexistent/labels", "busybox", "true")
	if after := e.ids(); !slices.Equal(after, before) {
		t.Errorf("a bad label left containers: %v, had %v", after, before)
	}
}

// TestFormatNetworks: network ls has Docker's columns and the host and none
// rows, --format and --filter (labels from network create --label);
// network inspect has an IPAM block and the attached containers.
func TestFormatNetworks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := e.netCreate("labnet", "--label", "env=test", "--label", "team")
	id := e.lcRunDetached("--name", "member", "--network", "labnet", "busybox", "sleep", "100")

	ls := lcLines(e.ok("network", "ls"))
	if len(ls) != 5 || !regexp.MustCompile(`^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$`).MatchString(ls[0]) {
		t.Fatalf("network ls =\n%s", strings.Join(ls, "\n"))
	}
	// By name, as Docker sorts them.
	for i, want := range []string{`bridge\s+bridge`, `host\s+host`, `labnet\s+bridge`, `none\s+null`} {
		if !regexp.MustCompile(`^[0-9a-f]{12}\s+` + want + `\s+local$`).MatchString(ls[i+1]) {
			t.Errorf("network ls row %d = %q, want %s ... local", i+1, ls[i+1], want)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-f", "label=env=test"}, []string{"labnet test"}},
		{[]string{"-f", "label=team"}, []string{"labnet test"}},
		{[]string{"-f", "label=env=prod"}, nil},
		{[]string{"-f", "type=builtin"}, []string{"bridge ", "host ", "none "}},
		{[]string{"-f", "driver=bridge", "-f", "name=lab"}, []string{"labnet test"}},
	} {
		args := append([]string{"network", "ls", "--format", `{{.Name}} {{.Label "env"}}`}, tc.args...)
		if got := strings.Split(strings.TrimRight(e.run(args...).stdout, "\n"), "\n"); !slices.Equal(got, tc.want) && !(tc.want == nil && got[0] == "") {
			t.Errorf("network ls %q = %q, want %q", tc.args, got, tc.want)
		}
	}
	if got := e.ok("network", "ls", "--no-trunc", "-q", "-f", "name=labnet"); got != n.ID {
		t.Errorf("network ls --no-trunc -q = %q, want %s", got, n.ID)
	}
	e.fails(1, "invalid filter 'color'", "network", "ls", "-f", "color=red")
	e.fails(1, `invalid label "=x"`, "network", "create", "--label", "=x", "badlabel")
	e.fails(1, "network badlabel not found", "network", "inspect", "badlabel")

	var ds []struct {
		Scope, Driver string
		IPAM          struct {
			Driver string
			Config []struct{ Subnet, Gateway string }
		}
		Containers map[string]struct{ Name, IPv4Address string }
		Labels     map[string]string
	}
	if err := json.Unmarshal([]byte(e.ok("network", "inspect", "labnet")), &ds); err != nil || len(ds) != 1 {
		t.Fatalf("network inspect: %v", err)
	}
	d := ds[0]
	if d.Scope != "local" || d.Driver != "bridge" || d.IPAM.Driver != "default" || len(d.IPAM.Config) != 1 ||
		d.IPAM.Config[0].Subnet != n.Subnet || d.IPAM.Config[0].Gateway != n.Gateway {
		t.Errorf("network inspect: Scope %q Driver %q IPAM %+v, want local, bridge, default [{%s %s}]", d.Scope, d.Driver, d.IPAM, n.Subnet, n.Gateway)
	}
	if c := d.Containers[id]; c.Name != "member" || !strings.HasSuffix(c.IPv4Address, "/"+strings.Split(n.Subnet, "/")[1]) {
		t.Errorf("network inspect Containers = %+v, want member with an address", d.Containers)
	}
	if len(d.Labels) != 2 || d.Labels["env"] != "test" || d.Labels["team"] != "" {
		t.Errorf("network inspect Labels = %v", d.Labels)
	}
	if got := e.ok("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.env}}", "labnet"); got != n.Subnet+" "+n.Gateway+" test" {
		t.Errorf("network inspect -f = %q", got)
	}
	if got := e.ok("network", "inspect", "-f", "{{.Name}} {{.Driver}} {{len .Containers}}", "host", "none"); got != "host host 0\nnone null 0" {
		t.Errorf("network inspect host none = %q", got)
	}
	// A container with --network none: listed by network inspect none, and under its Networks with none's id.
	alone := e.lcRunDetached("--name", "alone", "--network", "none", "busybox", "sleep", "100")
	noneID := e.ok("network", "inspect", "-f", "{{.Id}}", "none")
	if got := e.ok("inspect", "-f", "{{range $n, $e := .NetworkSettings.Networks}}{{$n}} {{$e.NetworkID}} [{{$e.IPAddress}}]{{end}}", "alone"); got != "none "+noneID+" []" {
		t.Errorf("inspect alone's Networks = %q, want none %s []", got, noneID)
	}
	if got := e.ok("network", "inspect", "-f", "{{range $id, $c := .Containers}}{{$id}} {{$c.Name}}{{end}}", "none"); got != alone+" alone" {
		t.Errorf("network inspect none Containers = %q", got)
	}
	e.fails(1, `map has no entry for key "Nope"`, "network", "inspect", "-f", "{{.Nope}}", "labnet")

	// inspect finds containers first, then images, networks and volumes, as Docker's; --type picks one.
	e.ok("volume", "create", "labvol")
	if got := lcLines(e.ok("inspect", "-f", "{{.Name}}", "member", "labnet", "labvol", "none")); !slices.Equal(got, []string{"/member", "labnet", "labvol", "none"}) {
		t.Errorf("inspect of a container, network, volume and none = %q", got)
	}
	if got := e.ok("inspect", "-f", "{{.Id}}", "busybox"); !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(got) {
		t.Errorf("inspect busybox (an image) = %q", got)
	}
	e.fails(1, "no such object: nosuch", "inspect", "nosuch")
	e.fails(1, "network member not found", "inspect", "--type", "network", "member")
	e.fails(1, `"box" is not a valid value for --type`, "inspect", "--type", "box", "member")
	e.ok("volume", "rm", "labvol")

	// image ls and volume ls take --format too.
	if got := e.ok("images", "--format", "{{.Repository}}:{{.Tag}}"); got != "busybox:latest" {
		t.Errorf("images --format = %q", got)
	}
	if got := lcLines(e.ok("image", "ls", "--format", `table {{.Repository}}\t{{.Size}}`)); len(got) != 2 || !regexp.MustCompile(`^REPOSITORY\s+SIZE$`).MatchString(got[0]) {
		t.Errorf("image ls --format table = %q", got)
	}
	if got := e.ok("images", "--format", "{{.Repository}}", "busybox:latest"); got != "busybox" {
		t.Errorf("images busybox:latest = %q", got)
	}
	if got := e.ok("images", "-q", "nosuch"); got != "" {
		t.Errorf("images -q nosuch = %q, want nothing", got)
	}
	e.ok("volume", "create", "--label", "k=v", "fmtvol")
	if got := e.ok("volume", "ls", "--format", `{{.Name}} {{.Driver}} {{.Label "k"}} {{.Scope}}`); got != "fmtvol local v local" {
		t.Errorf("volume ls --format = %q", got)
	}
	e.ok("volume", "rm", "fmtvol")
}

// TestFormatImageLabels: the image's labels show in Config.Labels beside
// the container's own (which win), and ps's label filter sees both.
func TestFormatImageLabels(t *testing.T) {
	e := newEnv(t)
	reg := startRegistry(t)
	img := withConfig(t, appImage(t, e, "labels"), func(cfg *v1.ConfigFile) {
		cfg.Config.Labels = map[string]string{"maintainer": "ops", "app": "from-image"}
	})
	ref := reg.addr + "/test/labelled:1"
	reg.push(t, ref[len(reg.addr)+1:], img)
	e.ok("pull", ref)
	e.lcRunDetached("--name", "lab", "--label", "app=mine", "--entrypoint", "/bin/sh", ref, "-c", "sleep 100")
	if got := e.ok("inspect", "-f", "{{json .Config.Labels}}", "lab"); got != `{"app":"mine","maintainer":"ops"}` {
		t.Errorf("Config.Labels = %s, want the image's with --label winning", got)
	}
	if got := e.ok("ps", "-f", "label=maintainer=ops", "--format", "{{.Names}}"); got != "lab" {
		t.Errorf("ps -f label=maintainer=ops = %q, want lab", got)
	}
	// image inspect -f: the image's own labels, and its id as ps's ancestor filter takes it.
	if got := e.ok("image", "inspect", "-f", "{{json .Config.Labels}}", ref); got != `{"app":"from-image","maintainer":"ops"}` {
		t.Errorf("image inspect -f Config.Labels = %s", got)
	}
	id := e.ok("image", "inspect", "--format", "{{.Id}}", ref)
	if got := e.ok("ps", "-f", "ancestor="+id, "--format", "{{.Names}}"); got != "lab" {
		t.Errorf("ps -f ancestor=%s = %q, want lab", id, got)
	}
	e.fails(1, `map has no entry for key "Nope"`, "image", "inspect", "-f", "{{.Nope}}", ref)
}
