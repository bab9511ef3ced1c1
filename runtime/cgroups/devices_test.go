package cgroups

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDeviceRulesV1(t *testing.T) {
	render := func(privileged bool) []string {
		var lines []string
		for _, s := range v1DeviceSettings(DeviceRules(privileged)) {
			if s.controller != "devices" {
				t.Errorf("%s: controller %q", s.file, s.controller)
			}
			lines = append(lines, s.file+" "+s.value)
		}
		return lines
	}
	want := []string{
		"devices.deny a",
		"devices.allow c *:* m",
		"devices.allow b *:* m",
		"devices.allow c 1:3 rwm",
		"devices.allow c 1:5 rwm",
		"devices.allow c 1:7 rwm",
		"devices.allow c 1:8 rwm",
		"devices.allow c 1:9 rwm",
		"devices.allow c 5:0 rwm",
		"devices.allow c 5:1 rwm",
		"devices.allow c 5:2 rwm",
		"devices.allow c 136:* rwm",
		"devices.allow c 10:200 rwm",
	}
	if got := render(false); !slices.Equal(got, want) {
		t.Errorf("default rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := render(true), []string{"devices.allow a"}; !slices.Equal(got, want) {
		t.Errorf("privileged rules = %q, want %q", got, want)
	}
	// Every device hutch makes in /dev stays allowed.
	for _, n := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}} {
		if !slices.ContainsFunc(DeviceRules(false), func(r specs.LinuxDeviceCgroup) bool {
			return r.Allow && r.Type == "c" && r.Major != nil && *r.Major == n[0] && r.Minor != nil && *r.Minor == n[1] && r.Access == "rwm"
		}) {
			t.Errorf("c %d:%d not allowed", n[0], n[1])
		}
	}
}

// The kernel takes the default rules in the v1 devices controller, and a
// process in the group may make any node but open only the allowed ones.
func TestDeviceRulesEnforcedV1(t *testing.T) {
	l := mustLayout(t)
	if l.limits2 || !slices.ContainsFunc(l.v1, func(h hierarchy) bool { return h.has("devices") }) {
		t.Skip("no v1 devices controller")
	}
	id := testID(t)
	cg, err := create(l, parent+"/"+id, &specs.LinuxResources{Devices: DeviceRules(false)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cg.Delete(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		assertGone(t, id)
	})
	dir := groupDir(t, l, "devices", id)
	want := strings.Join([]string{
		"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
		"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
	}, "\n")
	if got := readTrim(t, filepath.Join(dir, "devices.list")); got != want {
		t.Errorf("devices.list:\n%s\nwant:\n%s", got, want)
	}

	// A shell that joins the group, then makes c 1:3 (null) under another
	// name, which it may open, and c 1:11 (kmsg), which it may not (root on
	// the host may: the refusal is the group's).
	tmp := t.TempDir()
	script := `echo $$ > "$1/cgroup.procs" &&
mknod "$2/null" c 1 3 && mknod "$2/kmsg" c 1 11 &&
echo x > "$2/null" && echo null ok &&
{ head -c0 "$2/kmsg" && echo kmsg opened; } 2>&1; true`
	out, err := exec.Command("sh", "-c", script, "sh", dir, tmp).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "null ok") || !strings.Contains(string(out), "Operation not permitted") {
		t.Errorf("want /dev/null usable and kmsg refused (EPERM), got:\n%s", out)
	}
	for _, n := range []string{"null", "kmsg"} {
		os.Remove(filepath.Join(tmp, n))
	}
}

// The v2 program, alone (the layout drops v1's devices hierarchy, which
// Create then leaves to the v2 program): a process in the group may make
// any node, open /dev/null and a node it made for c 1:3, but not one for
// c 1:11 (kmsg), which root on the host may open. With the privileged
// rule, it may.
func TestDeviceRulesEnforcedV2(t *testing.T) {
	l := mustLayout(t)
	if l.v2 == "" {
		t.Skip("no cgroup v2 tree")
	}
	only2 := layout{v2: l.v2, limits2: l.limits2}
	for _, h := range l.v1 {
		if !h.has("devices") {
			only2.v1 = append(only2.v1, h)
		}
	}
	for _, privileged := range []bool{false, true} {
		id := testID(t)
		cg, err := create(only2, parent+"/"+id, &specs.LinuxResources{Devices: DeviceRules(privileged)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := cg.Delete(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
		tmp := t.TempDir()
		script := `echo $$ > "$1/cgroup.procs" &&
mknod "$2/null" c 1 3 && mknod "$2/kmsg" c 1 11 &&
echo x > /dev/null && echo x > "$2/null" && echo null ok &&
{ head -c0 "$2/kmsg" && echo kmsg opened; } 2>&1; true`
		out, err := exec.Command("sh", "-c", script, "sh", cg.v2, tmp).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		got := string(out)
		ok := strings.HasPrefix(got, "null ok\n") && strings.Contains(got, "Operation not permitted")
		if privileged {
			ok = got == "null ok\nkmsg opened\n"
		}
		if !ok {
			t.Errorf("privileged=%v: want /dev/null usable and kmsg refused with EPERM unless privileged, got:\n%s", privileged, got)
		}
	}
}
