package dns

import (
	"reflect"
	"testing"
)

const hostConf = `# generated
domain corp.example
search corp.example lab.example
nameserver 127.0.0.53
nameserver 192.0.2.1
nameserver ::1
options ndots:5 edns0 timeout:2
`

func TestResolvConf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		host    []byte
		mode    Mode
		servers []string
		want    string
		isNil   bool
	}{
		{name: "private drops loopback", host: []byte(hostConf), mode: Private,
			want: "# generated\ndomain corp.example\nsearch corp.example lab.example\nnameserver 192.0.2.1\noptions ndots:5 edns0 timeout:2\n"},
		{name: "--dns replaces every nameserver", host: []byte(hostConf), mode: Private, servers: []string{"198.51.100.7"},
			want: "# generated\ndomain corp.example\nsearch corp.example lab.example\noptions ndots:5 edns0 timeout:2\n\nnameserver 198.51.100.7\n"}, // the blank line is the host file's last newline, as before
		{name: "host network keeps the host's", host: []byte(hostConf), mode: Host, want: hostConf},
		{name: "host network with --dns", host: []byte("nameserver 127.0.0.53\n"), mode: Host, servers: []string{"198.51.100.7"},
			want: "nameserver 198.51.100.7\n"},
		{name: "no host file, --dns", mode: Private, servers: []string{"198.51.100.7"}, want: "nameserver 198.51.100.7\n"},
		{name: "no host file", mode: Private, isNil: true},
		{name: "embedded: search, options, ndots:0", host: []byte(hostConf), mode: Embedded, servers: []string{"198.51.100.7"},
			want: "domain corp.example\nsearch corp.example lab.example\nnameserver 127.0.0.11\noptions ndots:0 edns0 timeout:2\n"},
		{name: "embedded without a host file", mode: Embedded, want: "nameserver 127.0.0.11\noptions ndots:0\n"},
	} {
		got := ResolvConf(tc.host, tc.mode, tc.servers)
		if tc.isNil {
			if got != nil {
				t.Errorf("%s: got %q, want no file", tc.name, got)
			}
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestUpstreams(t *testing.T) {
	got := Upstreams([]byte(hostConf), nil)
	want := []string{"127.0.0.53:53", "192.0.2.1:53", "[::1]:53"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("host's: got %q, want %q", got, want)
	}
	got = Upstreams([]byte(hostConf), []string{"198.51.100.7", "fe80::1%eth0", "bad"})
	want = []string{"198.51.100.7:53", "[fe80::1]:53"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("--dns: got %q, want %q", got, want)
	}
	if got := Upstreams(nil, nil); got != nil {
		t.Errorf("nothing: got %q", got)
	}
}
