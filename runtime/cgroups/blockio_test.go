package cgroups

import "testing"

func TestParseBlockIO(t *testing.T) {
	v1 := "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 1\n8:16 Write 2\nTotal 12291\n"
	if r, w := parseBlkioV1(v1); r != 4097 || w != 8194 {
		t.Errorf("v1: %d %d", r, w)
	}
	v2 := "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=5 wbytes=7\n"
	if r, w := parseIOStat(v2); r != 105 || w != 207 {
		t.Errorf("v2: %d %d", r, w)
	}
}
