package logs

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Config is a container's --log-driver and --log-opt: json-file (the
// default) with rotation, or none.
type Config struct {
	Driver  string // "json-file" or "none"
	MaxSize int64  // max-size: rotate once the file would pass it; 0: never
	MaxFile int    // max-file: files kept, the current one included (default 1)
}

// Drivers hutch has.
const (
	JSONFile = "json-file"
	None     = "none"
)

// ErrNoRead is what reading a log of the none driver gives (Docker's words).
var ErrNoRead = errors.New("configured logging driver does not support reading")

// ParseConfig checks --log-driver and the --log-opt KEY=VALUE pairs (a
// value may also hold several pairs separated by commas).
func ParseConfig(driver string, opts []string) (Config, error) {
	c := Config{Driver: driver, MaxFile: 1}
	if c.Driver == "" {
		c.Driver = JSONFile
	}
	if c.Driver != JSONFile && c.Driver != None {
		return c, fmt.Errorf("--log-driver %q: hutch has json-file and none", driver)
	}
	maxFileSet := false
	for _, o := range splitOpts(opts) {
		key, val, ok := strings.Cut(o, "=")
		if !ok || key == "" {
			return c, fmt.Errorf("--log-opt %q: want KEY=VALUE", o)
		}
		if c.Driver == None {
			return c, fmt.Errorf("unknown log opt '%s' for none log driver", key)
		}
		switch key {
		case "max-size":
			n, err := parseLogSize(val)
			if err != nil {
				return c, fmt.Errorf("--log-opt max-size=%s: %v", val, err)
			}
			c.MaxSize = n
		case "max-file":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return c, fmt.Errorf("--log-opt max-file=%s: want a number of files, 1 or more", val)
			}
			c.MaxFile, maxFileSet = n, true
		default:
			return c, fmt.Errorf("unknown log opt '%s' for json-file log driver (hutch has max-size and max-file)", key)
		}
	}
	if maxFileSet && c.MaxFile > 1 && c.MaxSize == 0 {
		return c, errors.New("--log-opt max-file can only be used with max-size")
	}
	return c, nil
}

// splitOpts takes "max-size=10m,max-file=3" as two options.
func splitOpts(opts []string) []string {
	var out []string
	for _, o := range opts {
		out = append(out, strings.Split(o, ",")...)
	}
	return out
}

var logSizeRE = regexp.MustCompile(`^(?i)(\d+(?:\.\d+)?)\s*([kmg])?b?$`)

// parseLogSize reads max-size as Docker does: bytes or k, m, g; -1 is no limit.
func parseLogSize(s string) (int64, error) {
	if s == "-1" {
		return 0, nil
	}
	m := logSizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, errors.New("want a size such as 10m")
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, err
	}
	f *= float64(map[string]int64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[strings.ToLower(m[2])])
	if f < 1 || f >= math.MaxInt64 {
		return 0, errors.New("want a size of 1 byte or more")
	}
	return int64(f), nil
}

// Files are the log's files, oldest first: path.N ... path.1, then path.
func Files(path string) []string {
	matches, _ := filepath.Glob(path + ".*")
	type numbered struct {
		n    int
		path string
	}
	var rotated []numbered
	for _, m := range matches {
		if n, err := strconv.Atoi(strings.TrimPrefix(m, path+".")); err == nil && n > 0 {
			rotated = append(rotated, numbered{n, m})
		}
	}
	sort.Slice(rotated, func(i, j int) bool { return rotated[i].n > rotated[j].n })
	var out []string
	for _, r := range rotated {
		out = append(out, r.path)
	}
	return append(out, path)
}

// rotate shifts path to path.1, path.1 to path.2 and so on, keeping
// maxFile files in all; the caller opens a new path.
func rotate(path string, maxFile int) error {
	if maxFile <= 1 {
		return os.Remove(path)
	}
	for i := maxFile - 1; i >= 1; i-- {
		src := path + "." + strconv.Itoa(i-1)
		if i == 1 {
			src = path
		}
		if err := os.Rename(src, path+"."+strconv.Itoa(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
