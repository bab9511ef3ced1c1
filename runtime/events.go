package runtime

import (
	"maps"
	"strconv"
	"strings"

	"github.com/hutchrt/hutch/runtime/events"
)

// containerEvent journals a container event with Docker's attributes (image,
// name, the container's labels) and extra ones (exitCode, signal...).
// Best effort: it never fails the action.
func (s *Store) containerEvent(c *Container, action string, extra ...string) {
	if c == nil {
		return
	}
	attrs := make(map[string]string, len(c.Labels)+2+len(extra)/2)
	maps.Copy(attrs, c.Labels)
	attrs["image"], attrs["name"] = c.Image, c.Name
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	events.Append(s.Root, events.New(events.Container, action, c.ID, attrs))
}

// Event journals a network, image or volume event about id (best effort).
func (s *Store) Event(typ, action, id string, attrs ...string) {
	event(s.Root, typ, action, id, attrs...)
}

// event journals an event of root's: attrs are key, value pairs.
func event(root, typ, action, id string, attrs ...string) {
	m := make(map[string]string, len(attrs)/2)
	for i := 0; i+1 < len(attrs); i += 2 {
		m[attrs[i]] = attrs[i+1]
	}
	events.Append(root, events.New(typ, action, id, m))
}

// execEvents journals an exec's exec_create and exec_start now (Docker's
// actions name the command) and returns what journals its exec_die.
func (s *Store) execEvents(c *Container, args []string) (died func(code *int)) {
	id := newID()
	cmd := strings.Join(args, " ")
	s.containerEvent(c, "exec_create: "+cmd, "execID", id)
	s.containerEvent(c, "exec_start: "+cmd, "execID", id)
	return func(code *int) { s.containerEvent(c, "exec_die", "execID", id, "exitCode", strconv.Itoa(*code)) }
}
