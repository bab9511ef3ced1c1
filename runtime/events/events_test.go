package events

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func ev(typ, action, id string, attrs map[string]string) Event {
	e := New(typ, action, id, attrs)
	return e
}

func TestParseFilter(t *testing.T) {
	f, err := ParseFilter([]string{"type=container", "event=start", "event=die", "label=a=b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(f["event"]) != 2 || f["label"][0] != "a=b" {
		t.Errorf("filter: %v", f)
	}
	for arg, want := range map[string]string{
		"foo=bar":   "invalid filter 'foo'",
		"nokey":     "bad format of filter",
		"=x":        "bad format of filter",
		"type=blob": "unknown event type 'blob'",
	} {
		if _, err := ParseFilter([]string{arg}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFilter(%q) = %v, want %q", arg, err, want)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	web := ev(Container, "start", "abcdef0123", map[string]string{"image": "busybox", "name": "web", "app": "x"})
	die := ev(Container, "die", "abcdef0123", map[string]string{"image": "busybox:latest", "name": "web", "exitCode": "3"})
	net := ev(Network, "connect", "ffee01", map[string]string{"name": "n1", "container": "abcdef0123", "type": "bridge"})
	img := ev(Image, "tag", "sha256:1234", map[string]string{"name": "mybox"})
	vol := ev(Volume, "create", "v1", map[string]string{"driver": "local"})
	cases := []struct {
		filter []string
		e      Event
		want   bool
	}{
		{nil, web, true},
		{[]string{"type=container"}, web, true},
		{[]string{"type=container"}, net, false},
		{[]string{"type=network", "type=container"}, net, true}, // OR within a key
		{[]string{"event=start"}, web, true},
		{[]string{"event=start", "event=die"}, die, true},
		{[]string{"event=stop"}, die, false},
		{[]string{"container=web"}, web, true},
		{[]string{"container=abcdef"}, web, true}, // an ID prefix
		{[]string{"container=bcdef"}, web, false},
		{[]string{"container=web"}, net, false},              // container= is about container events only
		{[]string{"container=web", "event=die"}, web, false}, // AND across keys
		{[]string{"container=web", "event=die"}, die, true},
		{[]string{"image=busybox"}, die, true}, // busybox and busybox:latest are one
		{[]string{"image=busybox:latest"}, web, true},
		{[]string{"image=alpine"}, web, false},
		{[]string{"image=mybox"}, img, true},
		{[]string{"network=n1"}, net, true},
		{[]string{"network=ffee"}, net, true},
		{[]string{"network=n2"}, net, false},
		{[]string{"volume=v1"}, vol, true},
		{[]string{"volume=v1"}, web, false},
		{[]string{"label=app"}, web, true},
		{[]string{"label=app=x"}, web, true},
		{[]string{"label=app=y"}, web, false},
		{[]string{"label=app"}, die, false},
	}
	for _, c := range cases {
		f, err := ParseFilter(c.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Match(c.e); got != c.want {
			t.Errorf("%v on %s %s %v: %v, want %v", c.filter, c.e.Type, c.e.Action, c.e.Actor.Attributes, got, c.want)
		}
	}
}

func TestNewAndLine(t *testing.T) {
	e := New(Container, "die", "abc", map[string]string{"name": "web", "image": "busybox", "exitCode": "0"})
	if e.Status != "die" || e.ID != "abc" || e.From != "busybox" || e.Scope != "local" || e.Time != e.TimeNano/1e9 {
		t.Errorf("legacy fields: %+v", e)
	}
	if n := New(Network, "create", "n", nil); n.Status != "" || n.From != "" || n.Actor.Attributes == nil {
		t.Errorf("network event: %+v", n)
	}
	e.TimeNano = time.Date(2026, 12, 4, 15, 0, 0, 5, time.Local).UnixNano()
	want := time.Unix(0, e.TimeNano).Format("2006-01-02T15:04:05") + ".000000005" + time.Unix(0, e.TimeNano).Format("Z07:00") +
		" container die abc (exitCode=0, image=busybox, name=web)"
	if got := Line(e); got != want {
		t.Errorf("Line:\n got %q\nwant %q", got, want)
	}
	if got := Line(Event{Type: "volume", Action: "create", Actor: Actor{ID: "v"}}); !strings.HasSuffix(got, " volume create v") {
		t.Errorf("Line without attributes: %q", got)
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"":                          {},
		"10m":                       now.Add(-10 * time.Minute),
		"1h30m":                     now.Add(-90 * time.Minute),
		"1796396400":                time.Unix(1796396400, 0),
		"1796396400.5":              time.Unix(1796396400, 500000000),
		"2026-12-04T14:00:00Z":      time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC),
		"2026-12-04T14:00:00.25Z":   time.Date(2026, 12, 4, 14, 0, 0, 250000000, time.UTC),
		"2026-12-04T14:00:00+01:00": time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC),
		"2026-12-04":                time.Date(2026, 12, 4, 0, 0, 0, 0, time.Local),
	}
	for in, want := range cases {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "12x", "2026-13-01", "-"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("ParseTime(%q): no error", bad)
		}
	}
}

// past reads the journal's events since, as events --since T --until now.
func past(root string, since time.Time, fn func(Event)) {
	Follow(context.Background(), root, true, since, time.Now(), fn)
}

func TestJournal(t *testing.T) {
	root := t.TempDir()
	defer func(m int64) { MaxSize = m }(MaxSize)
	MaxSize = 600 // a few lines per file
	var sent []string
	for i := 0; i < 12; i++ {
		a := string(rune('a' + i))
		Append(root, New(Volume, "create", a, nil))
		sent = append(sent, a)
	}
	if _, err := os.Stat(Path(root) + ".1"); err != nil {
		t.Fatalf("no rotated journal: %v", err)
	}
	var got []string
	past(root, time.Time{}, func(e Event) { got = append(got, e.Actor.ID) })
	// Rotation keeps one old file: what is left is the newest events, in order.
	joined := strings.Join(sent, "")
	if len(got) == 0 || !strings.HasSuffix(joined, strings.Join(got, "")) {
		t.Errorf("read %v after rotation, want a tail of %v", got, sent)
	}
	// Bounds: nothing after until.
	var none int
	Follow(context.Background(), root, true, time.Time{}, time.Unix(1, 0), func(Event) { none++ })
	if none != 0 {
		t.Errorf("until in 1970 read %d events", none)
	}
	// A torn last line is not an event.
	f, _ := os.OpenFile(Path(root), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"Type":"volume","Act`)
	f.Close()
	n := 0
	past(root, time.Time{}, func(Event) { n++ })
	if n != len(got) {
		t.Errorf("a torn line counted: %d events, want %d", n, len(got))
	}
}

func TestFollow(t *testing.T) {
	root := t.TempDir()
	defer func(m int64) { MaxSize = m }(MaxSize)
	Append(root, New(Volume, "create", "old", nil))
	fi, _ := os.Stat(Path(root))
	MaxSize = 5 * fi.Size() // one rotation among the 8 lines below (a follower polls: two in one poll would lose the middle file)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 100)
	done := make(chan error)
	go func() {
		done <- Follow(ctx, root, false, time.Time{}, time.Time{}, func(e Event) { got <- e.Actor.ID })
	}()
	// Let the follower reach the journal's end: lines written before it
	// opened the file would be past, not followed.
	time.Sleep(3 * pollEvery)
	want := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"} // across a rotation
	for _, id := range want {
		Append(root, New(Volume, "create", id, nil))
	}
	for _, id := range want {
		select {
		case g := <-got:
			if g != id {
				t.Fatalf("followed %q, want %q", g, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("follower never saw %q", id)
		}
	}
	if _, err := os.Stat(Path(root) + ".1"); err != nil {
		t.Errorf("the journal did not rotate: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	select {
	case g := <-got:
		t.Errorf("extra event %q (old events are not followed)", g)
	default:
	}
}

// BenchmarkAppend is the cost one event adds to an action (run --rm writes four).
func BenchmarkAppend(b *testing.B) {
	root := b.TempDir()
	e := New(Container, "start", strings.Repeat("a", 64), map[string]string{"image": "busybox", "name": "jolly_weasel_12"})
	for i := 0; i < b.N; i++ {
		Append(root, e)
	}
}

// TestFollowPast: with past, the journal's events in range come first, then
// new ones, until ctx ends.
func TestFollowPast(t *testing.T) {
	root := t.TempDir()
	Append(root, New(Volume, "create", "old", nil))
	mark := time.Now()
	Append(root, New(Volume, "create", "p1", nil))
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 10)
	done := make(chan error)
	go func() { done <- Follow(ctx, root, true, mark, time.Time{}, func(e Event) { got <- e.Actor.ID }) }()
	if g := <-got; g != "p1" {
		t.Fatalf("first event %q, want p1 (old is before --since)", g)
	}
	Append(root, New(Volume, "create", "n1", nil))
	select {
	case g := <-got:
		if g != "n1" {
			t.Fatalf("followed %q, want n1", g)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follower never saw n1")
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
