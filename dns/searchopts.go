package dns

import "strings"

// WithSearchOptions applies --dns-search and --dns-option to a resolv.conf:
// search domains replace the file's search and domain lines ("." alone
// means none), and each option replaces the file's option of the same name
// (ndots:2 replaces ndots:0), the others kept, as Docker's resolv.conf does.
func WithSearchOptions(conf []byte, search, options []string) []byte {
	if len(search) == 0 && len(options) == 0 {
		return conf
	}
	var out, kept []string
	for _, line := range strings.Split(strings.TrimRight(string(conf), "\n"), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 1 && (f[0] == "search" || f[0] == "domain") && len(search) > 0:
			continue
		case len(f) >= 1 && f[0] == "options" && len(options) > 0:
			kept = append(kept, f[1:]...)
			continue
		}
		if line != "" || len(out) > 0 {
			out = append(out, line)
		}
	}
	if len(search) > 0 && !(len(search) == 1 && search[0] == ".") {
		out = append(out, "search "+strings.Join(search, " "))
	}
	if len(options) > 0 {
		given := map[string]bool{}
		for _, o := range options {
			given[optionName(o)] = true
		}
		var merged []string
		for _, o := range kept {
			if !given[optionName(o)] {
				merged = append(merged, o)
			}
		}
		out = append(out, "options "+strings.Join(append(merged, options...), " "))
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

func optionName(o string) string {
	name, _, _ := strings.Cut(o, ":")
	return name
}
