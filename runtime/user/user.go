// Package user resolves a -u/--user value against a container image's
// /etc/passwd and /etc/group, with Docker's rules.
package user

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// User is who the container's process runs as.
type User struct {
	UID, GID       uint32
	AdditionalGids []uint32 // supplementary groups
	Home           string   // for $HOME
	Name           string   // "" for a numeric uid not in passwd
}

// Parse resolves spec ("", "name", "uid", "name:group", "uid:gid",
// "name:gid", "uid:group") against the passwd and group files (nil = empty).
// "" means root. A numeric uid or gid need not exist in the files (a uid
// not in passwd gets gid 0 and home "/", or "/root" and name "root" for
// uid 0); a name must. Home is never empty ("/" when passwd leaves it
// blank). When no group is given, AdditionalGids are the gids of the groups
// listing the user as a member (none otherwise, as in Docker).
func Parse(spec string, passwd, group io.Reader) (User, error) {
	userArg, groupArg, hasGroup := strings.Cut(spec, ":")
	if hasGroup && groupArg == "" {
		return User{}, fmt.Errorf("invalid user %q: empty group after ':'", spec)
	}
	if userArg == "" {
		userArg = "0" // root, as in Docker (also for ":group")
	}
	var u User

	uid, numeric, err := parseID(userArg)
	if err != nil {
		return User{}, fmt.Errorf("invalid user %q: %w", spec, err)
	}
	entries, err := readEntries(passwd, 7)
	if err != nil {
		return User{}, fmt.Errorf("read passwd: %w", err)
	}
	found := false
	for _, e := range entries {
		id, err := strconv.ParseUint(e[2], 10, 32)
		if err != nil {
			continue
		}
		if numeric && uint32(id) == uid || !numeric && e[0] == userArg {
			gid, err := strconv.ParseUint(e[3], 10, 32)
			if err != nil {
				continue
			}
			u.UID, u.GID, u.Name, u.Home = uint32(id), uint32(gid), e[0], e[5]
			if u.Home == "" {
				u.Home = "/"
			}
			found = true
			break
		}
	}
	if !found {
		if !numeric {
			return User{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userArg)
		}
		u.UID, u.Home = uid, "/"
		if uid == 0 {
			// An image without passwd still has a root.
			u.Name, u.Home = "root", "/root"
		}
	}

	groups, err := readEntries(group, 4)
	if err != nil {
		return User{}, fmt.Errorf("read group: %w", err)
	}
	if hasGroup {
		gid, numeric, err := parseID(groupArg)
		if err != nil {
			return User{}, fmt.Errorf("invalid group %q: %w", groupArg, err)
		}
		if !numeric {
			i := indexFunc(groups, func(g []string) bool { return g[0] == groupArg && validID(g[2]) })
			if i < 0 {
				return User{}, fmt.Errorf("unable to find group %s: no matching entries in group file", groupArg)
			}
			gid, _, _ = parseID(groups[i][2])
		}
		u.GID = gid
		return u, nil
	}
	if u.Name == "" {
		return u, nil
	}
	for _, g := range groups {
		if !validID(g[2]) {
			continue
		}
		for _, member := range strings.Split(g[3], ",") {
			if member == u.Name {
				gid, _, _ := parseID(g[2])
				u.AdditionalGids = append(u.AdditionalGids, gid)
				break
			}
		}
	}
	return u, nil
}

// parseID reports whether s is all digits and, if so, its value; like
// Docker, ids must be within 0..2^31-1.
func parseID(s string) (id uint32, numeric bool, err error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return 0, true, fmt.Errorf("uids and gids must be in range 0-%d", math.MaxInt32)
	}
	return uint32(n), true, nil
}

func validID(s string) bool {
	_, numeric, err := parseID(s)
	return numeric && err == nil
}

// readEntries splits a passwd-style file into entries of exactly n
// colon-separated fields (missing trailing fields are empty), skipping
// blank lines, comments and NIS "+"/"-" lines.
func readEntries(r io.Reader, n int) ([][]string, error) {
	if r == nil {
		return nil, nil
	}
	var out [][]string
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
			continue
		}
		fields := strings.SplitN(line, ":", n)
		if len(fields) < 3 {
			continue
		}
		for len(fields) < n {
			fields = append(fields, "")
		}
		out = append(out, fields)
	}
	return out, s.Err()
}

func indexFunc(entries [][]string, f func([]string) bool) int {
	for i, e := range entries {
		if f(e) {
			return i
		}
	}
	return -1
}
