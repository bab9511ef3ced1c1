package ipam

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

func TestDefaultPool(t *testing.T) {
	pool := DefaultPool()
	if len(pool) != 15+16 {
		t.Fatalf("len(DefaultPool()) = %d, want 31", len(pool))
	}
	for i, want := range map[int]string{0: "172.17.0.0/16", 14: "172.31.0.0/16", 15: "192.168.0.0/20",
		16: "192.168.16.0/20", 30: "192.168.240.0/20"} {
		if pool[i].String() != want {
			t.Errorf("DefaultPool()[%d] = %s, want %s", i, pool[i], want)
		}
	}
	for i, p := range pool {
		if _, err := CheckSubnet(p, netip.Addr{}); err != nil {
			t.Errorf("DefaultPool()[%d]: %v", i, err)
		}
		for _, q := range pool[:i] {
			if Overlaps(p, q) {
				t.Errorf("DefaultPool(): %s overlaps %s", p, q)
			}
		}
	}
}

func TestPoolFromEnv(t *testing.T) {
	tests := []struct {
		env     string
		want    []netip.Prefix
		wantErr string
	}{
		{env: "", want: DefaultPool()},
		{env: "  ", want: DefaultPool()},
		{env: "10.10.0.0/16", want: prefixes("10.10.0.0/16")},
		{env: "10.10.0.0/16, 10.20.0.0/24,", want: prefixes("10.10.0.0/16", "10.20.0.0/24")},
		{env: "10.10.0.0/16,bogus", wantErr: `invalid subnet "bogus"`},
		{env: "10.10.0.0", wantErr: "CIDR"},
		{env: "10.10.1.0/16", wantErr: "did you mean 10.10.0.0/16"},
		{env: "fd00::/64", wantErr: "IPv6 subnets are not supported"},
		{env: "10.0.0.0/31", wantErr: "between /8 and /30"},
		{env: ",", wantErr: "no subnets"},
	}
	for _, tt := range tests {
		t.Setenv(PoolEnv, tt.env)
		got, err := PoolFromEnv()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "$"+PoolEnv) {
				t.Errorf("PoolFromEnv() with %q error = %v, want %q", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("PoolFromEnv() with %q = %v, %v, want %v", tt.env, got, err, tt.want)
		}
	}
}

func TestChooseSubnet(t *testing.T) {
	tests := []struct {
		name  string
		taken []netip.Prefix
		want  string
	}{
		{"nothing taken", nil, "172.17.0.0/16"},
		{"first taken by a network", prefixes("172.17.0.0/16"), "172.18.0.0/16"},
		{"host address inside a candidate", prefixes("172.17.5.9/32"), "172.18.0.0/16"},
		{"interface address with its prefix length", prefixes("172.18.3.4/16", "172.17.0.1/16"), "172.19.0.0/16"},
		{"route covering all of 172.16/12", prefixes("172.16.0.0/12"), "192.168.0.0/20"},
		{"smaller route inside a /20", prefixes("172.16.0.0/12", "192.168.1.0/24"), "192.168.16.0/20"},
		{"unrelated routes", prefixes("10.0.0.0/8", "192.169.0.0/16", "172.32.0.0/16"), "172.17.0.0/16"},
		{"IPv6 routes never overlap", prefixes("::/0", "fe80::/64"), "172.17.0.0/16"},
		{"last candidate left", prefixes("172.16.0.0/12", "192.168.0.0/17", "192.168.128.0/18",
			"192.168.192.0/19", "192.168.224.0/20"), "192.168.240.0/20"},
	}
	for _, tt := range tests {
		got, err := ChooseSubnet(DefaultPool(), tt.taken)
		if err != nil || got.String() != tt.want {
			t.Errorf("%s: ChooseSubnet() = %v, %v, want %s", tt.name, got, err, tt.want)
		}
	}
}

func TestChooseSubnetExhausted(t *testing.T) {
	for _, taken := range [][]netip.Prefix{
		prefixes("0.0.0.0/0"),
		prefixes("172.16.0.0/12", "192.168.0.0/16"),
		prefixes("172.16.0.0/12", "192.168.0.0/17", "192.168.128.0/17"),
	} {
		got, err := ChooseSubnet(DefaultPool(), taken)
		if !errors.Is(err, ErrPoolExhausted) {
			t.Errorf("ChooseSubnet(taken %v) = %v, %v, want ErrPoolExhausted", taken, got, err)
		}
	}
	if _, err := ChooseSubnet(nil, nil); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("ChooseSubnet(nil, nil) error = %v, want ErrPoolExhausted", err)
	}
}

func TestOverlaps(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"10.0.0.0/8", "10.1.0.0/16", true},
		{"10.1.0.0/16", "10.0.0.0/8", true},
		{"10.1.0.0/16", "10.1.255.255/32", true},
		{"10.1.0.0/16", "10.2.0.0/16", false},
		{"192.168.0.0/20", "192.168.16.0/20", false},
		{"192.168.0.0/20", "192.168.15.1/24", true},
		{"0.0.0.0/0", "1.2.3.4/32", true},
		{"10.0.0.0/8", "::/0", false},
	}
	for _, tt := range tests {
		a, b := netip.MustParsePrefix(tt.a), netip.MustParsePrefix(tt.b)
		if got := Overlaps(a, b); got != tt.want {
			t.Errorf("Overlaps(%s, %s) = %v, want %v", a, b, got, tt.want)
		}
	}
}

func TestParseSubnet(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "10.1.0.0/16", want: "10.1.0.0/16"},
		{in: "10.1.2.3/16", want: "10.1.2.3/16"}, // CheckSubnet's job to refuse
		{in: "10.1.0.0", wantErr: `invalid subnet "10.1.0.0": want CIDR notation`},
		{in: "", wantErr: "want CIDR notation"},
		{in: "10.1.0.0/33", wantErr: `invalid subnet "10.1.0.0/33"`},
		{in: "10.1.0/16", wantErr: "invalid subnet"},
		{in: "mynet/16", wantErr: "invalid subnet"},
		{in: "fd00::/64", wantErr: "IPv6 subnets are not supported"},
		{in: "::ffff:10.0.0.0/104", wantErr: "IPv6 subnets are not supported"},
	}
	for _, tt := range tests {
		got, err := ParseSubnet(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSubnet(%q) = %v, %v, want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseSubnet(%q) = %v, %v, want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckSubnet(t *testing.T) {
	tests := []struct {
		subnet, gateway string
		want, wantErr   string
		is              error
	}{
		{subnet: "10.1.0.0/16", want: "10.1.0.1"},
		{subnet: "10.1.0.0/16", gateway: "10.1.255.254", want: "10.1.255.254"},
		{subnet: "10.1.0.0/16", gateway: "10.1.3.7", want: "10.1.3.7"},
		{subnet: "10.0.0.0/8", want: "10.0.0.1"},
		{subnet: "192.168.5.0/30", want: "192.168.5.1"},
		{subnet: "192.168.5.0/30", gateway: "192.168.5.2", want: "192.168.5.2"},
		{subnet: "10.1.0.0/16", gateway: "::ffff:10.1.0.9", want: "10.1.0.9"},
		{subnet: "10.1.2.3/16", wantErr: "subnet 10.1.2.3/16 has host bits set: did you mean 10.1.0.0/16?"},
		{subnet: "10.0.0.0/7", wantErr: "prefix length must be between /8 and /30"},
		{subnet: "10.0.0.0/31", wantErr: "between /8 and /30"},
		{subnet: "10.0.0.0/32", wantErr: "between /8 and /30"},
		{subnet: "fd00::/64", wantErr: "IPv6 subnets are not supported"},
		{subnet: "", wantErr: "invalid subnet"},
		{subnet: "10.1.0.0/16", gateway: "10.2.0.1", wantErr: "gateway 10.2.0.1: address outside the subnet 10.1.0.0/16",
			is: ErrOutsideSubnet},
		{subnet: "10.1.0.0/16", gateway: "10.1.0.0", wantErr: "gateway 10.1.0.0 is the network address of 10.1.0.0/16"},
		{subnet: "10.1.0.0/16", gateway: "10.1.255.255", wantErr: "gateway 10.1.255.255 is the broadcast address"},
		{subnet: "10.1.0.0/16", gateway: "fd00::1", wantErr: "IPv6 is not supported"},
	}
	for _, tt := range tests {
		var subnet netip.Prefix
		if tt.subnet != "" {
			subnet = netip.MustParsePrefix(tt.subnet)
		}
		var gw netip.Addr
		if tt.gateway != "" {
			gw = netip.MustParseAddr(tt.gateway)
		}
		got, err := CheckSubnet(subnet, gw)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("CheckSubnet(%s, %s) = %v, %v, want error %q", tt.subnet, tt.gateway, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("CheckSubnet(%s, %s) = %v, %v, want %s", tt.subnet, tt.gateway, got, err, tt.want)
		}
	}
}
