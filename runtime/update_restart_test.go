package runtime

import (
	"strings"
	"testing"
)

// update takes --restart alone, limits alone, or both; nothing at all is an error.
func TestUpdateOptionsRestart(t *testing.T) {
	tests := []struct {
		o           UpdateOptions
		res, policy bool
		err         string
	}{
		{UpdateOptions{Restart: "always"}, false, true, ""},
		{UpdateOptions{Restart: "on-failure:2", Memory: "64m"}, true, true, ""},
		{UpdateOptions{Memory: "64m"}, true, false, ""},
		{UpdateOptions{}, false, false, "--restart"},
		{UpdateOptions{Restart: "sometimes"}, false, false, "unknown policy"},
	}
	for _, tt := range tests {
		res, err := tt.o.Resources()
		var p *RestartPolicy
		if err == nil {
			p, err = tt.o.RestartPolicy()
		}
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%+v: error %v, want %q", tt.o, err, tt.err)
			}
			continue
		}
		if err != nil || (res != nil) != tt.res || (p != nil) != tt.policy {
			t.Errorf("%+v: resources %v, policy %v, error %v", tt.o, res, p, err)
		}
	}
	if p, _ := (UpdateOptions{Restart: "on-failure:2"}).RestartPolicy(); p.Name != "on-failure" || p.MaximumRetryCount != 2 {
		t.Errorf("on-failure:2 read as %+v", p)
	}
}
