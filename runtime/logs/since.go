package logs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads --since and --until (logs, events) as Docker does: a
// Unix time (seconds, with an optional fraction), an RFC 3339 date or time
// (local when it has no zone), or a duration before now (10m, 1h30m).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, _ := strings.Cut(s, "."); isDigits(sec) && (frac == "" || isDigits(frac)) {
		n, err := strconv.ParseInt(sec, 10, 64)
		if err == nil {
			ns := int64(0)
			if frac != "" {
				frac = (frac + "000000000")[:9]
				ns, _ = strconv.ParseInt(frac, 10, 64)
			}
			return time.Unix(n, ns), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02Z07:00", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", s)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
