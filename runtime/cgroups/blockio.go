package cgroups

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"
)

// BlockIO returns the bytes the group has read from and written to block
// devices: v1's blkio.throttle.io_service_bytes_recursive, else v2's
// io.stat. A host that accounts neither gives 0, 0.
func (c *Cgroup) BlockIO() (read, write uint64, err error) {
	if d := c.dirOf("blkio"); d != "" {
		s, err := readFile(d + "/blkio.throttle.io_service_bytes_recursive")
		if errors.Is(err, fs.ErrNotExist) {
			return 0, 0, nil
		}
		if err != nil {
			return 0, 0, err
		}
		read, write = parseBlkioV1(s)
		return read, write, nil
	}
	if c.v2 == "" {
		return 0, 0, nil
	}
	s, err := readFile(c.v2 + "/io.stat")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	read, write = parseIOStat(s)
	return read, write, nil
}

// parseBlkioV1 sums the "MAJ:MIN Read N" and "MAJ:MIN Write N" lines.
func parseBlkioV1(s string) (read, write uint64) {
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			continue
		}
		switch f[1] {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write
}

// parseIOStat sums rbytes= and wbytes= over io.stat's device lines.
func parseIOStat(s string) (read, write uint64) {
	for line := range strings.Lines(s) {
		for _, kv := range strings.Fields(line) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				read += n
			case "wbytes":
				write += n
			}
		}
	}
	return read, write
}
