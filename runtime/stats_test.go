package runtime

import "testing"

func TestParseNetDev(t *testing.T) {
	in := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    5000      50    0    0    0     0          0         0      700       7    0    0    0     0       0          0
  eth1:      10       1    0    0    0     0          0         0       20       2    0    0    0     0       0          0
`
	if rx, tx := parseNetDev(in); rx != 5010 || tx != 720 {
		t.Errorf("got %d %d, want 5010 720", rx, tx)
	}
}
