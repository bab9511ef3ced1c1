package jsonwalk

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fill sets every field reachable from v to something not empty: strings
// that need escaping, distinct numbers, two-element slices and maps, and
// allocated pointers. Interface fields stay nil (Encode refuses them).
func fill(v reflect.Value, n *int, depth int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d <&> \"q\" \u2028 \x01 é", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n % 100))
	case reflect.Pointer:
		if depth > 8 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n, depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), n, depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), n, depth+1)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, n, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, n, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n, depth+1)
			}
		}
	}
}

func same(t *testing.T, name string, v any) {
	t.Helper()
	want, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got, err := walk(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if string(got) != string(want) {
		t.Errorf("%s: walk differs from encoding/json:\n got %s\nwant %s", name, got, want)
	}
}

// Byte for byte what encoding/json writes, for every field of the OCI spec
// set, for none set, and for values in between.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	var full specs.Spec
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n, 0)
	same(t, "every field set", &full)
	same(t, "nothing set", &specs.Spec{})
	same(t, "a nil pointer", (*specs.Spec)(nil))
	empty := specs.Spec{Process: &specs.Process{Args: []string{}, Env: nil}, Annotations: map[string]string{},
		Linux: &specs.Linux{Resources: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8}}}}}}}
	same(t, "empty slices and maps, an embedded struct", &empty)
	same(t, "map order", map[string]int{"b": 1, "a": 2, "A": 3, "ä": 4, "": 5})
	same(t, "top-level slice", []string{"x", "<y>"})
	type inner struct{ A, B int }
	type withPtr struct {
		*inner
		C  int    `json:"c,omitempty"`
		D  string `json:"-"`
		E  uint8  `json:"-,"`
		ef int
	}
	same(t, "embedded pointer", withPtr{inner: &inner{1, 2}, C: 3, D: "d", E: 4})
	same(t, "embedded nil pointer", withPtr{})
}

// objectJSON encodes itself as an object, from a pointer receiver.
type objectJSON struct{ n int }

func (o *objectJSON) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"n": %d, "list": [1, 2], "empty": {}}`, o.n)), nil
}

// Types that encode themselves: their own JSON indented in place, their
// text as a string, a pointer method only where the value is addressable.
func TestEncodeSelfEncoding(t *testing.T) {
	type record struct {
		When    time.Time            `json:"when"`
		Never   time.Time            `json:"never"`
		Addr    netip.Addr           `json:"addr"`
		NoAddr  netip.Addr           `json:"noAddr,omitempty"`
		Prefix  *netip.Prefix        `json:"prefix,omitempty"`
		NilTime *time.Time           `json:"nilTime"`
		Obj     objectJSON           `json:"obj"`
		ObjPtr  *objectJSON          `json:"objPtr"`
		Objs    []objectJSON         `json:"objs"`
		ByName  map[string]time.Time `json:"byName"`
	}
	p := netip.MustParsePrefix("10.1.0.0/16")
	r := record{
		When: time.Date(2026, 11, 23, 1, 2, 3, 4, time.UTC), Addr: netip.MustParseAddr("10.1.2.3"), Prefix: &p,
		Obj: objectJSON{1}, ObjPtr: &objectJSON{2}, Objs: []objectJSON{{3}, {4}},
		ByName: map[string]time.Time{"b": {}, "a": time.Unix(5, 0).UTC()},
	}
	same(t, "a record by pointer", &r)
	same(t, "a record by value (its Obj not addressable)", r)
	same(t, "a list of records", []record{r, {}})
}

// What walk refuses, MarshalIndent still encodes, as encoding/json does.
func TestEncodeRefusesWhatItDoesNotKnow(t *testing.T) {
	type strOpt struct {
		N int `json:"n,string"`
	}
	for name, v := range map[string]any{
		"float":         1.5,
		"interface":     specs.Windows{CredentialSpec: "x"},
		"bytes":         []byte("x"),
		"int map key":   map[int]string{1: "a"},
		"string option": strOpt{1},
	} {
		if _, err := walk(v); !errors.Is(err, errUnsupported) {
			t.Errorf("%s: walk = %v, want errUnsupported", name, err)
		}
		want, _ := json.MarshalIndent(v, "", "  ")
		if got, err := MarshalIndent(v); err != nil || string(got) != string(want) {
			t.Errorf("%s: MarshalIndent = %s, %v; want %s", name, got, err, want)
		}
	}
}

// htmlJSON's own JSON has characters encoding/json escapes.
type htmlJSON struct{}

func (htmlJSON) MarshalJSON() ([]byte, error) {
	return []byte(`{"a": "<b>&amp;\u2028", "n": [1, {"x": null}]}`), nil
}

// both has a MarshalText on the value and a MarshalJSON on the pointer:
// encoding/json takes the pointer's where the value is addressable.
type both struct{ N int }

func (b both) MarshalText() ([]byte, error)  { return []byte(fmt.Sprintf("text %d", b.N)), nil }
func (b *both) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf(`{"json": %d}`, b.N)), nil }

type inner2 struct{ X, Y int }

// The corners of encoding/json's rules: walk matches them, or leaves them
// to encoding/json, with the same result either way.
func TestEncodeCorners(t *testing.T) {
	same(t, "MarshalJSON escaped and indented", struct {
		H  htmlJSON   `json:"h"`
		Hs []htmlJSON `json:"hs"`
	}{Hs: []htmlJSON{{}}})
	type holder struct {
		B  both   `json:"b"`
		Bs []both `json:"bs"`
	}
	same(t, "pointer MarshalJSON first, addressable", &holder{both{1}, []both{{2}}})
	same(t, "value MarshalText, not addressable", holder{both{3}, []both{{4}}})
	type named struct {
		inner2 `json:"in"`
		Z      int
	}
	same(t, "unexported embedded struct with a tag name", named{inner2{1, 2}, 3})

	type dupA struct{ X int }
	type dupB struct{ X int }
	type dup struct {
		dupA
		dupB
	}
	type odd struct {
		A int `json:"a b"`
		B int `json:"\u00e9"`
	}
	type node struct {
		Next *node `json:"next"`
	}
	cyclic := &node{}
	cyclic.Next = cyclic
	for name, v := range map[string]any{"two fields, one name": dup{dupA{1}, dupB{2}}, "odd tag names": odd{1, 2}} {
		if _, err := walk(v); !errors.Is(err, errUnsupported) {
			t.Errorf("%s: walk = %v, want errUnsupported", name, err)
		}
		want, _ := json.MarshalIndent(v, "", "  ")
		if got, err := MarshalIndent(v); err != nil || string(got) != string(want) {
			t.Errorf("%s: MarshalIndent = %s, %v; want %s", name, got, err, want)
		}
	}
	if _, err := MarshalIndent(cyclic); err == nil {
		t.Error("a cyclic value encoded")
	}
}

// Strings written as they are and strings encoding/json escapes.
func TestEncodeStrings(t *testing.T) {
	same(t, "strings", []string{"", "plain /path_name-1.2:x=y", "quote\"", "back\\slash", "<html>&", "tab\t",
		"nl\n", "\x00", "del\x7f", "é", "\u2028", "bad utf-8 \xff", "{}[],:"})
}
