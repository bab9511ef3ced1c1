package mountinfo

import "testing"

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/hutch":        "/var/lib/hutch",
		`/tmp/a\040b`:           "/tmp/a b",
		`/tmp/tab\011x\134y`:    "/tmp/tab\tx\\y",
		`/tmp/odd\04`:           `/tmp/odd\04`, // cut short: kept as it is
		`/tmp/not\999an/escape`: `/tmp/not\999an/escape`,
		`/tmp/end\040`:          "/tmp/end ",
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
