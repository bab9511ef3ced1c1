package runtime

import "fmt"

// MaxNameLen is the longest container name. Docker sets none, and a name
// longer than a file name (255 bytes) failed deep in the store with the
// whole name in the message; 128 is what images allow too (rootfs).
const MaxNameLen = 128

// shorten keeps a user's overlong input out of error lines.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s... (%d characters)", s[:max], len(s))
}
