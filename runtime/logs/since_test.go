package logs

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"10m":                  now.Add(-10 * time.Minute),
		"1h30m":                now.Add(-90 * time.Minute),
		"1136073600":           time.Unix(1136073600, 0),
		"1136073600.5":         time.Unix(1136073600, 500000000),
		"2026-12-04T14:00:00Z": time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC),
		"2026-12-04T14:00:00":  time.Date(2026, 12, 4, 14, 0, 0, 0, time.Local), // no zone: local, as Docker's
		"2026-12-03":           time.Date(2026, 12, 3, 0, 0, 0, 0, time.Local),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "10x", "12:00", "1.2.3"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("ParseTime(%q): no error", bad)
		}
	}
}
