// Package jsonwalk encodes a value exactly as encoding/json's
// MarshalIndent(v, "", "  ") does, looking only at the values present.
//
// encoding/json, on its first use of a type, builds an encoder for every
// type reachable from it, present or not. For an OCI runtime spec that is
// hundreds of types (Windows, Solaris, seccomp, every cgroup knob) and
// 0.5 ms of CPU in every `hutch run`, which writes one config.json. The
// value hutch writes sets a few dozen fields; walking just those is some
// microseconds.
//
// Encode covers what the OCI spec types and hutch's records are made of:
// structs (json tags, omitempty, embedded structs), pointers, slices,
// arrays, maps with string keys, strings, bools, integers, and types that
// encode themselves (MarshalJSON, MarshalText: time.Time, netip.Addr). For
// anything else (an interface value, a float, a []byte, a ",string" tag)
// MarshalIndent calls encoding/json.
package jsonwalk

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// errUnsupported: the value holds something walk does not encode.
var errUnsupported = errors.New("jsonwalk: unsupported value")

// MarshalIndent is json.MarshalIndent(v, "", "  "), walking v when it can
// and leaving the rest to encoding/json.
func MarshalIndent(v any) ([]byte, error) {
	b, err := walk(v)
	if errors.Is(err, errUnsupported) {
		return json.MarshalIndent(v, "", "  ")
	}
	return b, err
}

// Walks reports whether MarshalIndent encodes v itself, without
// encoding/json: for tests that keep a caller's values on the fast path.
func Walks(v any) bool {
	_, err := walk(v)
	return err == nil
}

// walk returns the indented JSON of v (see the package comment).
func walk(v any) ([]byte, error) {
	var w walker
	if err := w.value(reflect.ValueOf(v), 0); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

type walker struct{ buf bytes.Buffer }

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// ownEncoding reports whether t encodes itself, which encoding/json honours.
func ownEncoding(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(marshalerType) || t.Implements(textMarshalerType) ||
		p.Implements(marshalerType) || p.Implements(textMarshalerType)
}

// selfEncoder is v, or its address, when encoding/json would let it encode
// itself, in encoding/json's order: MarshalJSON (on the pointer of an
// addressable value first), then MarshalText.
func selfEncoder(v reflect.Value) (reflect.Value, bool) {
	t := v.Type()
	addressable := t.Kind() != reflect.Pointer && v.CanAddr()
	switch {
	case addressable && reflect.PointerTo(t).Implements(marshalerType):
		return v.Addr(), true
	case t.Implements(marshalerType):
		return v, true
	case addressable && reflect.PointerTo(t).Implements(textMarshalerType):
		return v.Addr(), true
	case t.Implements(textMarshalerType):
		return v, true
	}
	return v, false
}

// self writes what v's MarshalJSON or MarshalText says, as encoding/json
// does: JSON compacted, HTML-escaped and indented in place; text as a string.
func (w *walker) self(v reflect.Value, depth int) error {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		w.buf.WriteString("null")
		return nil
	}
	if !v.CanInterface() { // reached through an unexported field
		return fmt.Errorf("%w: %s", errUnsupported, v.Type())
	}
	if m, ok := v.Interface().(json.Marshaler); ok {
		b, err := m.MarshalJSON()
		if err != nil {
			return err
		}
		var compact, escaped bytes.Buffer
		if err := json.Compact(&compact, b); err != nil {
			return err
		}
		json.HTMLEscape(&escaped, compact.Bytes())
		return json.Indent(&w.buf, escaped.Bytes(), strings.Repeat("  ", depth), "  ")
	}
	b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
	if err != nil {
		return err
	}
	w.str(string(b))
	return nil
}

// maxDepth stops a cyclic value; encoding/json then reports the cycle.
const maxDepth = 500

func (w *walker) value(v reflect.Value, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested too deep", errUnsupported)
	}
	if !v.IsValid() {
		w.buf.WriteString("null")
		return nil
	}
	if m, ok := selfEncoder(v); ok {
		return w.self(m, depth)
	}
	switch v.Kind() {
	case reflect.Bool:
		w.buf.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.buf.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		w.buf.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.String:
		w.str(v.String())
	case reflect.Pointer:
		if v.IsNil() {
			w.buf.WriteString("null")
			return nil
		}
		return w.value(v.Elem(), depth)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return fmt.Errorf("%w: %s (base64)", errUnsupported, v.Type())
		}
		if v.IsNil() {
			w.buf.WriteString("null")
			return nil
		}
		return w.array(v, depth)
	case reflect.Array:
		return w.array(v, depth)
	case reflect.Map:
		return w.object(v, depth)
	case reflect.Struct:
		return w.strct(v, depth)
	default:
		return fmt.Errorf("%w: %s", errUnsupported, v.Type())
	}
	return nil
}

// str writes s quoted as encoding/json does (HTML characters escaped too).
func (w *walker) str(s string) {
	if plainString(s) { // most are: names, paths (a seccomp profile has 400)
		w.buf.WriteByte('"')
		w.buf.WriteString(s)
		w.buf.WriteByte('"')
		return
	}
	b, _ := json.Marshal(s) // a string cannot fail
	w.buf.Write(b)
}

// plainString reports whether encoding/json writes s as it is, in quotes:
// printable ASCII with nothing it escapes (HTML's <, > and & included).
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func (w *walker) newline(depth int) {
	w.buf.WriteByte('\n')
	for range depth {
		w.buf.WriteString("  ")
	}
}

func (w *walker) array(v reflect.Value, depth int) error {
	if v.Len() == 0 {
		w.buf.WriteString("[]")
		return nil
	}
	w.buf.WriteByte('[')
	for i := range v.Len() {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.newline(depth + 1)
		if err := w.value(v.Index(i), depth+1); err != nil {
			return err
		}
	}
	w.newline(depth)
	w.buf.WriteByte(']')
	return nil
}

// object writes a map, its keys sorted as encoding/json sorts them.
func (w *walker) object(v reflect.Value, depth int) error {
	if v.Type().Key().Kind() != reflect.String {
		return fmt.Errorf("%w: map key %s", errUnsupported, v.Type().Key())
	}
	if v.IsNil() {
		w.buf.WriteString("null")
		return nil
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	fields := make([]field, len(keys))
	for i, k := range keys {
		fields[i] = field{k.String(), v.MapIndex(k)}
	}
	return w.fields(fields, depth)
}

type field struct {
	name  string
	value reflect.Value
}

func (w *walker) fields(fs []field, depth int) error {
	if len(fs) == 0 {
		w.buf.WriteString("{}")
		return nil
	}
	w.buf.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.newline(depth + 1)
		w.str(f.name)
		w.buf.WriteString(": ")
		if err := w.value(f.value, depth+1); err != nil {
			return err
		}
	}
	w.newline(depth)
	w.buf.WriteByte('}')
	return nil
}

func (w *walker) strct(v reflect.Value, depth int) error {
	fs, err := structFields(v, nil)
	if err != nil {
		return err
	}
	// encoding/json settles a name two fields share (depth, tags); walk
	// does not try.
	for i := range fs {
		for j := range i {
			if fs[i].name == fs[j].name {
				return fmt.Errorf("%w: two fields named %q in %s", errUnsupported, fs[i].name, v.Type())
			}
		}
	}
	return w.fields(fs, depth)
}

// structFields lists the fields encoding/json would write, in its order:
// embedded structs without a tag name contribute their own fields in place.
func structFields(v reflect.Value, out []field) ([]field, error) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() != reflect.Struct || ownEncoding(ft) {
				return nil, fmt.Errorf("%w: embedded %s", errUnsupported, sf.Type)
			}
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			var err error
			if out, err = structFields(fv, out); err != nil {
				return nil, err
			}
			continue
		}
		if !sf.IsExported() && !(sf.Anonymous && name != "") {
			continue
		}
		if !plainName(name) {
			return nil, fmt.Errorf("%w: tag name %q on %s", errUnsupported, name, sf.Name)
		}
		omitEmpty := false
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "":
			case "omitempty":
				omitEmpty = true
			default: // ",string", "omitzero" and anything newer
				return nil, fmt.Errorf("%w: option %q on %s", errUnsupported, o, sf.Name)
			}
		}
		if omitEmpty && isEmpty(fv) {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, field{name, fv})
	}
	return out, nil
}

// plainName reports whether a tag name is one encoding/json takes as it is
// and walk can write without escaping: letters, digits, '-', '_', '.'.
func plainName(name string) bool {
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// isEmpty is encoding/json's idea of an empty value, for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
