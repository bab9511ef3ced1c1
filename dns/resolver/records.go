package resolver

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hutchrt/hutch/dns"
)

// A record is a registration as the resolver keeps it on disk, one file per
// container in DIR/members, so that a resolver started after one that died
// serves every running container again, as netavark keeps one file per
// network for aardvark-dns to reload. The container is known by its init's
// pid and start time (a pid alone may have been reused), and by the ports
// its nft redirect already points at.
type record struct {
	ID        string      `json:"id"`
	Pid       int         `json:"pid"`
	PidStart  uint64      `json:"pidStart"` // /proc/PID/stat field 22
	UDPPort   int         `json:"udpPort"`
	TCPPort   int         `json:"tcpPort"`
	Upstreams []string    `json:"upstreams,omitempty"`
	Entries   []dns.Entry `json:"entries"`
}

const membersDir = "members"

func recordPath(dir, id string) string { return filepath.Join(dir, membersDir, id+".json") }

// saveRecord writes rec in place of the one before, whole or not at all.
// Without fsync: the records are for a resolver that crashes, and a reboot
// ends the containers they describe.
func saveRecord(dir string, rec record) error {
	if rec.ID == "" || strings.ContainsAny(rec.ID, "/.") {
		return fmt.Errorf("record: bad id %q", rec.ID)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	path := recordPath(dir, rec.ID)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("record %s: %w", rec.ID, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("record %s: %w", rec.ID, err)
	}
	return nil
}

func removeRecord(dir, id string) {
	os.Remove(recordPath(dir, id))
}

// loadRecords reads every record of dir. One that does not parse (or a
// temporary file a crash left) is removed: nobody can serve it.
func loadRecords(dir string) ([]record, error) {
	names, err := filepath.Glob(filepath.Join(dir, membersDir, "*"))
	if err != nil {
		return nil, err
	}
	var out []record
	for _, name := range names {
		b, err := os.ReadFile(name)
		var rec record
		if err == nil && strings.HasSuffix(name, ".json") && json.Unmarshal(b, &rec) == nil &&
			rec.ID+".json" == filepath.Base(name) && rec.Pid > 0 {
			out = append(out, rec)
			continue
		}
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			os.Remove(name)
		}
	}
	return out, nil
}

// pidfdPid is the pid a pidfd refers to, from its fdinfo; 0 once the
// process is gone (the kernel then shows -1).
func pidfdPid(pidfd int) int {
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(pidfd))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			pid, _ := strconv.Atoi(strings.TrimSpace(v))
			return max(pid, 0)
		}
	}
	return 0
}
