package topology

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadRegistrations(t *testing.T) {
	dir := t.TempDir()
	if regs, err := ReadRegistrations(dir); err != nil || len(regs) != 0 {
		t.Fatalf("no members dir: %v %v", regs, err)
	}
	os.MkdirAll(filepath.Join(dir, "members"), 0o700)
	os.WriteFile(filepath.Join(dir, "members", "abc"), []byte("id abc\npid 12 345\nports 4000 4001\nup 127.0.0.1:53\ne front 10.210.0.2 web www abc\ne back 10.211.0.2 web\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "members", "abc.tmp"), []byte("e x 1.2.3.4 no\n"), 0o600)
	regs, err := ReadRegistrations(dir)
	if err != nil || len(regs) != 1 || len(regs[0].Entries) != 2 {
		t.Fatalf("%+v %v", regs, err)
	}
	e := regs[0].Entries[0]
	if e.Network != "front" || e.IP.String() != "10.210.0.2" || len(e.Names) != 3 || e.Names[1] != "www" {
		t.Errorf("entry: %+v", e)
	}
}
