package logs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads logs' --since and --until as Docker does: a duration
// before now ("10m", "1h30m"), Unix seconds ("1136073600",
// "1136073600.5"), or an RFC 3339 time, a date-time without a zone (UTC)
// or a date.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil { // a number alone needs a unit: not a duration

		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(s, "."); isDigits(sec) && (!ok || isDigits(frac)) {
		n, err := strconv.ParseInt(sec, 10, 64)
		if err == nil {
			var ns int64
			if ok {
				f := (frac + "000000000")[:9]
				ns, _ = strconv.ParseInt(f, 10, 64)
			}
			return time.Unix(n, ns), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want a duration (10m), Unix seconds or an RFC 3339 time (2006-01-02T15:04:05Z)", s)
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
