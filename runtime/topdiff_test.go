package runtime

import (
	"reflect"
	"testing"
)

func TestFilterPs(t *testing.T) {
	out := `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         100       1  0 10:01 ?        00:00:00 sh -c sleep 100
root         101     100  0 10:01 ?        00:00:00 sleep 100
root        1000       1  0 10:02 pts/0    00:00:00 bash
`
	header, rows, err := filterPs(out, map[int]bool{100: true, 101: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}; !reflect.DeepEqual(header, want) {
		t.Errorf("header %q", header)
	}
	want := [][]string{
		{"root", "100", "1", "0", "10:01", "?", "00:00:00", "sh -c sleep 100"},
		{"root", "101", "100", "0", "10:01", "?", "00:00:00", "sleep 100"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %q, want %q", rows, want)
	}
	if _, _, err := filterPs("USER COMMAND\nroot sh\n", map[int]bool{1: true}); err == nil {
		t.Error("no PID column: no error")
	}
	if _, rows, _ := filterPs("PID CMD\n  7 a b\n", map[int]bool{8: true}); len(rows) != 0 {
		t.Errorf("a pid not in the set kept: %q", rows)
	}
}
