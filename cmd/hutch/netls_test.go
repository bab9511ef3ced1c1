package main

import (
	"testing"

	"github.com/hutchrt/hutch/network"
)

func TestNetworkFilter(t *testing.T) {
	for _, bad := range []struct{ arg, want string }{
		{"foo=1", "invalid filter 'foo'"},
		{"name", "bad format of filter (expected name=value)"},
		{"type=other", "invalid filter: 'type'='other'"},
	} {
		if _, err := parseNetworkFilter([]string{bad.arg}); err == nil || err.Error() != bad.want {
			t.Errorf("%s: %v, want %q", bad.arg, err, bad.want)
		}
	}
	br := &network.Network{ID: "aaaa1111", Name: "bridge", Driver: "bridge"}
	mine := &network.Network{ID: "bbbb2222", Name: "shopnet", Driver: "bridge", Labels: map[string]string{"env": "prod"}}
	host := &network.Network{ID: "cccc3333", Name: "host", Driver: "host"}
	for _, tc := range []struct {
		args           []string
		br, mine, host bool
	}{
		{[]string{"name=shop"}, false, true, false},
		{[]string{"name=shop", "name=host"}, false, true, true},
		{[]string{"driver=bridge"}, true, true, false},
		{[]string{"driver=bridge", "name=br"}, true, false, false},
		{[]string{"id=bbbb"}, false, true, false},
		{[]string{"label=env"}, false, true, false},
		{[]string{"label=env=dev"}, false, false, false},
		{[]string{"type=builtin"}, true, false, true},
		{[]string{"type=custom"}, false, true, false},
		{[]string{"scope=local"}, true, true, true},
	} {
		f, err := parseNetworkFilter(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if f.match(br) != tc.br || f.match(mine) != tc.mine || f.match(host) != tc.host {
			t.Errorf("%v: bridge %v shopnet %v host %v, want %v %v %v", tc.args, f.match(br), f.match(mine), f.match(host), tc.br, tc.mine, tc.host)
		}
	}
}
