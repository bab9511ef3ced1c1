package events

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hutchrt/hutch/runtime/logs"
)

// Filter is events' --filter: values of one key are OR'd, keys AND'd.
type Filter map[string][]string

// filterKeys are Docker's event filter keys that hutch has things for.
var filterKeys = []string{"container", "event", "image", "label", "network", "type", "volume"}

// eventTypes are the values Docker accepts for type=.
var eventTypes = []string{"builder", "config", "container", "daemon", "image", "network", "node", "plugin", "secret", "service", "volume"}

// ParseFilter reads --filter KEY=VALUE flags, refusing what Docker refuses.
func ParseFilter(args []string) (Filter, error) {
	f := Filter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		if !slices.Contains(filterKeys, k) {
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		if k == "type" && !slices.Contains(eventTypes, v) {
			return nil, fmt.Errorf("unknown event type '%s'", v)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// Match reports whether e passes every key of the filter.
func (f Filter) Match(e Event) bool {
	a := e.Actor.Attributes
	for k, vs := range f {
		ok := false
		for _, v := range vs {
			switch k {
			case "type":
				ok = e.Type == v
			case "event":
				ok = e.Action == v || strings.HasPrefix(e.Action, v+":")
			case "container":
				ok = e.Type == Container && nameOrID(e, v)
			case "network":
				ok = e.Type == Network && nameOrID(e, v)
			case "volume":
				ok = e.Type == Volume && nameOrID(e, v)
			case "image":
				ok = (e.Type == Image && nameOrID(e, v)) || (e.Type == Container && sameImage(a["image"], v))
			case "label":
				lk, lv, has := strings.Cut(v, "=")
				got, set := a[lk]
				ok = set && (!has || got == lv)
			}
			if ok {
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// nameOrID: the actor's name, its ID or a prefix of its ID, as Docker's fuzzy match.
func nameOrID(e Event, v string) bool {
	return v != "" && (e.Actor.Attributes["name"] == v || strings.HasPrefix(e.Actor.ID, v))
}

// sameImage: busybox matches busybox:latest and the other way round.
func sameImage(img, v string) bool {
	tagged := func(s string) string {
		if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
			return s
		}
		return s + ":latest"
	}
	return img != "" && (img == v || tagged(img) == tagged(v))
}

// Line is Docker's default event line:
// TIME TYPE ACTION ID (k=v, ...), attributes sorted by key.
func Line(e Event) string {
	t := time.Unix(0, e.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00")
	s := t + " " + e.Type + " " + e.Action + " " + e.Actor.ID
	if len(e.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(e.Actor.Attributes))
		for k := range e.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		kv := make([]string, len(keys))
		for i, k := range keys {
			kv[i] = k + "=" + e.Actor.Attributes[k]
		}
		s += " (" + strings.Join(kv, ", ") + ")"
	}
	return s
}

// ParseTime reads --since/--until as logs does (logs.ParseTime, Docker's
// forms for both); "" is no bound.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return logs.ParseTime(s, now)
}
