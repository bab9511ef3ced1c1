package runtime

import (
	"bufio"
	"bytes"
	"os"
	"strings"
)

// ParseLabels reads run's --label-file files, then its --label flags (a
// flag wins over a file, as in Docker): KEY=VALUE, or KEY for an empty value.
func ParseLabels(flags, files []string) (map[string]string, error) {
	var all []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, invalidf("label file %s: %v", f, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line != "" && !strings.HasPrefix(line, "#") {
				all = append(all, line)
			}
		}
	}
	all = append(all, flags...)
	if len(all) == 0 {
		return nil, nil
	}
	labels := map[string]string{}
	for _, l := range all {
		k, v, _ := strings.Cut(l, "=")
		if k == "" || strings.TrimSpace(k) != k {
			return nil, invalidf("invalid label %q: the key must be non-empty, without surrounding spaces", l)
		}
		labels[k] = v
	}
	return labels, nil
}

// withImageLabels is Docker's Config.Labels: the image's labels, then the
// container's own, which win.
func withImageLabels(image, own map[string]string) map[string]string {
	if len(image) == 0 {
		return own
	}
	out := make(map[string]string, len(image)+len(own))
	for k, v := range image {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}
