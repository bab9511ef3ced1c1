package resolver

import (
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/hutchrt/hutch/dns"
)

// Each member sees the entries of the networks it is on, its own included,
// and nothing of the others.
func TestRebuildViews(t *testing.T) {
	ip := netip.MustParseAddr
	r := &resolver{members: map[string]*member{
		"a": {id: "a", entries: []dns.Entry{{Network: "front", Names: []string{"a"}, IP: ip("10.0.1.2")}}},
		"b": {id: "b", entries: []dns.Entry{
			{Network: "front", Names: []string{"b"}, IP: ip("10.0.1.3")},
			{Network: "back", Names: []string{"b"}, IP: ip("10.0.2.3")},
		}},
		"c": {id: "c", entries: []dns.Entry{{Network: "back", Names: []string{"c"}, IP: ip("10.0.2.4")}}},
	}}
	r.rebuildViews()
	for _, tt := range []struct {
		asker, name string
		want        bool
	}{
		{"a", "a", true}, {"a", "b", true}, {"a", "c", false},
		{"b", "a", true}, {"b", "c", true}, {"b", "c.back", true}, {"b", "c.front", false},
		{"c", "b", true}, {"c", "a", false},
	} {
		q := new(mdns.Msg)
		q.SetQuestion(mdns.Fqdn(tt.name), mdns.TypeA)
		resp, forward := r.members[tt.asker].view.Load().Answer(q)
		if got := !forward && resp != nil && len(resp.Answer) > 0; got != tt.want {
			t.Errorf("%s asks %s: answered locally = %v, want %v", tt.asker, tt.name, got, tt.want)
		}
	}
}

// A change among many members on one network costs one view, shared.
func BenchmarkRebuildViews200(b *testing.B) {
	r := &resolver{members: map[string]*member{}}
	for i := range 200 {
		id := string(rune('a'+i/26)) + string(rune('a'+i%26))
		r.members[id] = &member{id: id, entries: []dns.Entry{{Network: "n", Names: []string{id, "alias"},
			IP: netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(i%250 + 2)})}}}
	}
	for b.Loop() {
		r.rebuildViews()
	}
}
