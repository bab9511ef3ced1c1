package dns

import "testing"

func TestWithSearchOptions(t *testing.T) {
	conf := []byte("search corp.example\nnameserver 127.0.0.11\noptions ndots:0 edns0\n")
	for _, tc := range []struct {
		search, options []string
		want            string
	}{
		{nil, nil, string(conf)},
		{[]string{"a.test", "b.test"}, nil, "nameserver 127.0.0.11\noptions ndots:0 edns0\nsearch a.test b.test\n"},
		{[]string{"."}, nil, "nameserver 127.0.0.11\noptions ndots:0 edns0\n"},
		{nil, []string{"ndots:3", "rotate"}, "search corp.example\nnameserver 127.0.0.11\noptions edns0 ndots:3 rotate\n"},
		{[]string{"x.test"}, []string{"timeout:1"}, "nameserver 127.0.0.11\nsearch x.test\noptions ndots:0 edns0 timeout:1\n"},
	} {
		if got := string(WithSearchOptions(conf, tc.search, tc.options)); got != tc.want {
			t.Errorf("WithSearchOptions(%q, %q) = %q, want %q", tc.search, tc.options, got, tc.want)
		}
	}
}
