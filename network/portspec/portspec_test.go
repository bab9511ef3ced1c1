package portspec

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var localhost = netip.MustParseAddr("127.0.0.1")

func tcp(hostIP netip.Addr, host, ctr uint16) Mapping {
	return Mapping{HostIP: hostIP, HostPort: host, ContainerPort: ctr, Proto: "tcp"}
}

func udp(hostIP netip.Addr, host, ctr uint16) Mapping {
	return Mapping{HostIP: hostIP, HostPort: host, ContainerPort: ctr, Proto: "udp"}
}

func TestParse(t *testing.T) {
	anyIP := netip.Addr{}
	tests := []struct {
		spec string
		want []Mapping
	}{
		{"80", []Mapping{tcp(anyIP, 0, 80)}},
		{"80/udp", []Mapping{udp(anyIP, 0, 80)}},
		{"80/UDP", []Mapping{udp(anyIP, 0, 80)}},
		{"80/Tcp", []Mapping{tcp(anyIP, 0, 80)}},
		{"8080:80", []Mapping{tcp(anyIP, 8080, 80)}},
		{"65535:1", []Mapping{tcp(anyIP, 65535, 1)}},
		{"127.0.0.1:8080:80", []Mapping{tcp(localhost, 8080, 80)}},
		{"127.0.0.1::80", []Mapping{tcp(localhost, 0, 80)}},
		{"0.0.0.0:8080:80", []Mapping{tcp(anyIP, 8080, 80)}},
		{":8080:80", []Mapping{tcp(anyIP, 8080, 80)}},
		{":80", []Mapping{tcp(anyIP, 0, 80)}},
		{"::80", []Mapping{tcp(anyIP, 0, 80)}},
		{"080", []Mapping{tcp(anyIP, 0, 80)}},
		{"8000-8002:80-82", []Mapping{tcp(anyIP, 8000, 80), tcp(anyIP, 8001, 81), tcp(anyIP, 8002, 82)}},
		{"80-82", []Mapping{tcp(anyIP, 0, 80), tcp(anyIP, 0, 81), tcp(anyIP, 0, 82)}},
		{"80-80", []Mapping{tcp(anyIP, 0, 80)}},
		{"127.0.0.1:8000-8001:80-81/udp", []Mapping{udp(localhost, 8000, 80), udp(localhost, 8001, 81)}},
		{"127.0.0.1::80-81", []Mapping{tcp(localhost, 0, 80), tcp(localhost, 0, 81)}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.spec)
		if err != nil {
			t.Errorf("Parse(%q) error = %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %v, want %v", tt.spec, got, tt.want)
		}
	}
}

func TestParseFullRange(t *testing.T) {
	got, err := Parse("1-65535:1-65535")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 65535 || got[65534] != tcp(netip.Addr{}, 65535, 65535) {
		t.Errorf("Parse(1-65535:1-65535) = %d mappings ending in %v", len(got), got[len(got)-1])
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", `-p "": empty port specification`},
		{"70000:80", `-p "70000:80": port 70000 is out of range (1-65535)`},
		{"8080:70000", "port 70000 is out of range (1-65535)"},
		{"0", "port 0 is out of range (1-65535)"},
		{"0:80", "port 0 is out of range (1-65535)"},
		{"99999999999999999999999", "out of range (1-65535)"},
		{"http", `invalid port "http": not a number`},
		{"80:http", `invalid port "http": not a number`},
		{"-1", `invalid port range "-1"`},
		{"80-", `invalid port range "80-"`},
		{"+80", "not a number"},
		{" 80", "not a number"},
		{"8080:", "missing container port"},
		{"127.0.0.1:8080:", "missing container port"},
		{"82-80", "invalid port range 82-80: 82 is greater than 80"},
		{"8000-8002:82-80", "invalid port range 82-80"},
		{"80/sctp", `unsupported protocol "sctp" (only tcp and udp)`},
		{"80/tcp/udp", "unsupported protocol"},
		{"80/", "missing protocol"},
		{"[::1]:80:80", "IPv6 host addresses are not supported"},
		{"::1:80:80", "IPv6 host addresses are not supported"},
		{"fe80::1:8080:80", "IPv6 host addresses are not supported"},
		{"::ffff:1.2.3.4:80:80", "IPv6 host addresses are not supported"},
		{"1.2.3.4:5:6:7", "too many colons"},
		{"a:b:c:d", "too many colons"},
		{"1.2.3:8080:80", `invalid host IP "1.2.3"`},
		{"localhost:8080:80", `invalid host IP "localhost"`},
		{"8000-8010:80", "host port range and container port range must have the same length"},
		{"8000-8001:80-82", "must have the same length"},
		{"8000:80-81", "must have the same length"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.spec)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want error containing %q", tt.spec, got, tt.want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, `-p "`+tt.spec+`": `) || strings.Contains(msg, "\n") {
			t.Errorf("Parse(%q) error = %q, want one line `-p %q: ...%s...`", tt.spec, msg, tt.spec, tt.want)
		}
	}
}

func TestParseAll(t *testing.T) {
	tests := []struct {
		specs   []string
		want    int    // number of mappings when no error
		wantErr string // substring
	}{
		{specs: nil, want: 0},
		{specs: []string{"80", "80"}, want: 2}, // two random host ports: fine
		{specs: []string{"8080:80", "8081:80"}, want: 2},
		{specs: []string{"8080:80", "8080:80/udp"}, want: 2},
		{specs: []string{"127.0.0.1:8080:80", "127.0.0.2:8080:80"}, want: 2},
		{specs: []string{"8000-8002:80-82", "8003:83"}, want: 4},
		{specs: []string{"8080:80", "8080:81"},
			wantErr: `-p "8080:81": 0.0.0.0:8080/tcp conflicts with 0.0.0.0:8080/tcp published by -p "8080:80"`},
		{specs: []string{"8080:80", "0.0.0.0:8080:81"}, wantErr: "conflicts"},
		{specs: []string{"127.0.0.1:8080:80", "127.0.0.1:8080:81"},
			wantErr: `127.0.0.1:8080/tcp conflicts with 127.0.0.1:8080/tcp published by -p "127.0.0.1:8080:80"`},
		{specs: []string{"8080:80", "127.0.0.1:8080:81"},
			wantErr: `-p "127.0.0.1:8080:81": 127.0.0.1:8080/tcp conflicts with 0.0.0.0:8080/tcp`},
		{specs: []string{"127.0.0.1:8080:80", "8080:81"}, wantErr: "0.0.0.0:8080/tcp conflicts with 127.0.0.1:8080/tcp"},
		{specs: []string{"8000-8002:80-82", "8002:90"}, wantErr: "0.0.0.0:8002/tcp conflicts"},
		{specs: []string{"80/udp", "bad"}, wantErr: `-p "bad": invalid port "bad"`},
	}
	for _, tt := range tests {
		got, err := ParseAll(tt.specs)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseAll(%q) error = %v, want %q", tt.specs, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != tt.want {
			t.Errorf("ParseAll(%q) = %v, %v, want %d mappings", tt.specs, got, err, tt.want)
		}
	}
}

func TestStringAndContainerKey(t *testing.T) {
	tests := []struct {
		m        Mapping
		str, key string
	}{
		{tcp(netip.Addr{}, 8080, 80), "80/tcp -> 0.0.0.0:8080", "80/tcp"},
		{udp(localhost, 5353, 53), "53/udp -> 127.0.0.1:5353", "53/udp"},
		{tcp(netip.Addr{}, 0, 443), "443/tcp -> 0.0.0.0:0", "443/tcp"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.str {
			t.Errorf("%#v.String() = %q, want %q", tt.m, got, tt.str)
		}
		if got := tt.m.ContainerKey(); got != tt.key {
			t.Errorf("%#v.ContainerKey() = %q, want %q", tt.m, got, tt.key)
		}
	}
}

func TestParseExpose(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []string // ContainerKeys; nil: an error
	}{
		{"80", []string{"80/tcp"}},
		{"53/udp", []string{"53/udp"}},
		{"53/UDP", []string{"53/udp"}},
		{"8000-8002/tcp", []string{"8000/tcp", "8001/tcp", "8002/tcp"}},
		{"65535", []string{"65535/tcp"}},
		{"", nil},
		{"0", nil},
		{"65536", nil},
		{"80/sctp", nil},
		{"80/", nil},
		{"9-8", nil},
		{"1-", nil},
		{"http", nil},
		{"127.0.0.1:80", nil}, // a -p value is not an --expose one
	} {
		ms, err := ParseExpose(tc.spec)
		if (err != nil) != (tc.want == nil) {
			t.Errorf("ParseExpose(%q): %v, %v", tc.spec, ms, err)
			continue
		}
		var got []string
		for _, m := range ms {
			if m.HostPort != 0 || m.HostIP.IsValid() {
				t.Errorf("ParseExpose(%q): %+v has a host side", tc.spec, m)
			}
			got = append(got, m.ContainerKey())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ParseExpose(%q) = %v, want %v", tc.spec, got, tc.want)
		}
	}
}
