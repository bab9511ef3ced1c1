package caps

import (
	"slices"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	d := Default()
	if len(d) != 14 {
		t.Fatalf("Default() has %d caps, want 14: %v", len(d), d)
	}
	d[0] = "CAP_SYS_ADMIN"
	if Default()[0] != "CAP_CHOWN" {
		t.Fatal("Default() returned a shared slice")
	}
}

func TestResolve(t *testing.T) {
	// A host like the CI one: everything but CAP_SYS_RESOURCE.
	var host []string
	for n := range byName {
		if n != "CAP_SYS_RESOURCE" {
			host = append(host, n)
		}
	}
	slices.Sort(host)
	without := func(list []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(c string) bool { return slices.Contains(drop, c) })
	}
	sorted := func(list ...string) []string {
		l := slices.Clone(list)
		slices.Sort(l)
		return l
	}

	tests := []struct {
		name      string
		add, drop []string
		want      []string
	}{
		{"default", nil, nil, sorted(defaultCaps...)},
		{"add lower without prefix", []string{"net_admin"}, nil, sorted(append(Default(), "CAP_NET_ADMIN")...)},
		{"add with prefix mixed case", []string{"Cap_Sys_Ptrace"}, nil, sorted(append(Default(), "CAP_SYS_PTRACE")...)},
		{"add duplicate of default", []string{"CHOWN"}, nil, sorted(defaultCaps...)},
		{"drop one", nil, []string{"chown"}, sorted(without(defaultCaps, "CAP_CHOWN")...)},
		{"drop all add one", []string{"NET_BIND_SERVICE"}, []string{"all"}, []string{"CAP_NET_BIND_SERVICE"}},
		{"drop all", nil, []string{"ALL"}, nil},
		{"add all", []string{"ALL"}, nil, host},
		{"add all drop one", []string{"all"}, []string{"NET_RAW"}, without(host, "CAP_NET_RAW")},
		{"add all drop all", []string{"ALL"}, []string{"ALL"}, host},
		{"add cap host lacks", []string{"SYS_RESOURCE"}, nil, sorted(defaultCaps...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add, err := normalize(tt.add)
			if err != nil {
				t.Fatal(err)
			}
			drop, err := normalize(tt.drop)
			if err != nil {
				t.Fatal(err)
			}
			got := resolve(host, add, drop)
			if !slices.Equal(got, tt.want) {
				t.Errorf("resolve(%v, %v) = %v, want %v", tt.add, tt.drop, got, tt.want)
			}
		})
	}
}

func TestResolveUnknown(t *testing.T) {
	for _, tt := range []struct{ add, drop []string }{
		{[]string{"FOO"}, nil},
		{nil, []string{"FOO"}},
		{[]string{"CAP_FOO"}, nil},
		{[]string{""}, nil},
	} {
		_, err := Resolve(tt.add, tt.drop, false)
		if err == nil || !strings.HasPrefix(err.Error(), "unknown capability ") {
			t.Errorf("Resolve(%q, %q) error = %v, want unknown capability", tt.add, tt.drop, err)
		}
	}
	_, err := Resolve([]string{"FOO"}, nil, false)
	if want := `unknown capability "FOO"`; err == nil || err.Error() != want {
		t.Errorf("Resolve(FOO) error = %v, want %s", err, want)
	}
}

// The real host: whatever it lacks must never appear, and ALL/privileged must not fail.
func TestResolveHost(t *testing.T) {
	host, err := Host()
	if err != nil {
		t.Fatal(err)
	}
	if len(host) == 0 || !slices.IsSorted(host) {
		t.Fatalf("Host() = %v, want a non-empty sorted list", host)
	}
	for _, tt := range []struct {
		add        []string
		privileged bool
	}{
		{[]string{"ALL"}, false},
		{nil, true},
		{[]string{"SYS_RESOURCE", "SYS_ADMIN"}, false},
	} {
		got, err := Resolve(tt.add, nil, tt.privileged)
		if err != nil {
			t.Fatalf("Resolve(%v, privileged=%v): %v", tt.add, tt.privileged, err)
		}
		for _, c := range got {
			if !slices.Contains(host, c) {
				t.Errorf("Resolve(%v, privileged=%v) has %s, not in host bounding set", tt.add, tt.privileged, c)
			}
		}
	}
	priv, _ := Resolve(nil, nil, true)
	if !slices.Equal(priv, host) {
		t.Errorf("Resolve(privileged) = %v, want Host() = %v", priv, host)
	}
}

func TestSets(t *testing.T) {
	caps := []string{"CAP_CHOWN", "CAP_KILL"}
	root := Sets(caps, 0)
	for name, got := range map[string][]string{"bounding": root.Bounding, "effective": root.Effective, "permitted": root.Permitted} {
		if !slices.Equal(got, caps) {
			t.Errorf("Sets(root).%s = %v, want %v", name, got, caps)
		}
	}
	if len(root.Inheritable) != 0 || len(root.Ambient) != 0 {
		t.Errorf("Sets(root) inheritable=%v ambient=%v, want empty", root.Inheritable, root.Ambient)
	}
	user := Sets(caps, 1000)
	if !slices.Equal(user.Bounding, caps) {
		t.Errorf("Sets(1000).Bounding = %v, want %v", user.Bounding, caps)
	}
	for name, got := range map[string][]string{"effective": user.Effective, "permitted": user.Permitted, "inheritable": user.Inheritable, "ambient": user.Ambient} {
		if got == nil || len(got) != 0 {
			t.Errorf("Sets(1000).%s = %#v, want empty non-nil", name, got)
		}
	}
	root.Bounding[0] = "CAP_SYS_ADMIN"
	if caps[0] != "CAP_CHOWN" || root.Effective[0] != "CAP_CHOWN" {
		t.Error("Sets shares slices with its input or between sets")
	}
}

func TestMask(t *testing.T) {
	m, err := Mask([]string{"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"})
	if want := uint64(1<<0 | 1<<5 | 1<<21); err != nil || m != want {
		t.Errorf("Mask = %#x, %v; want %#x", m, err, want)
	}
	if m, err := Mask(nil); err != nil || m != 0 {
		t.Errorf("Mask(nil) = %#x, %v", m, err)
	}
	if _, err := Mask([]string{"CAP_NOPE"}); err == nil {
		t.Error("Mask accepted an unknown capability")
	}
}
