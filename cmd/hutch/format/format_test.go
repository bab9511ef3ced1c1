package format

import (
	"bytes"
	"strings"
	"testing"
)

type row struct{ ID, Names, Status string }

func (r row) Label(k string) string { return "v-" + k }

func render(t *testing.T, format string, rows ...any) (string, error) {
	t.Helper()
	var b bytes.Buffer
	err := List(&b, format, "table {{.ID}}\t{{.Names}}", row{ID: "CONTAINER ID", Names: "NAMES", Status: "STATUS"}, rows)
	return b.String(), err
}

func TestFunctions(t *testing.T) {
	r := row{ID: "abc", Names: "web,db", Status: "Up 2 minutes"}
	for format, want := range map[string]string{
		`{{json .Names}}`:                          `"web,db"`,
		`{{json .}}`:                               `{"ID":"abc","Names":"web,db","Status":"Up 2 minutes"}`,
		`{{join (split .Names ",") "+"}}`:          "web+db",
		`{{upper .ID}} {{lower "ABC"}}`:            "ABC abc",
		`{{title "up and down"}}`:                  "Up And Down",
		`[{{pad .ID 2 1}}]`:                        "[  abc ]",
		`{{truncate .Status 2}}`:                   "Up",
		`{{index (split .Names ",") 1}}`:           "db",
		`{{.Label "com.x"}}`:                       "v-com.x",
		`{{.ID}}\t{{len .Names}}`:                  "abc\t6",
		`{{if eq .ID "abc"}}yes{{end}}`:            "yes",
		`{{printf "%5s" .ID}}`:                     "  abc",
		`{{range split .Names ","}}<{{.}}>{{end}}`: "<web><db>",
	} {
		got, err := render(t, format, r)
		if err != nil || got != want+"\n" {
			t.Errorf("%s: %q, %v; want %q", format, got, err, want)
		}
	}
}

func TestTable(t *testing.T) {
	rows := []any{row{ID: "a1", Names: "web"}, row{ID: "b2", Names: "database"}}
	// The default table, and "table" alone: Docker's headers, 3-space padding, 10-column minimum.
	want := "CONTAINER ID   NAMES\na1             web\nb2             database\n"
	for _, f := range []string{"", "table"} {
		if got, err := render(t, f, rows...); err != nil || got != want {
			t.Errorf("format %q:\n%s(err %v), want\n%s", f, got, err, want)
		}
	}
	// Functions in a table's template leave its header as it is.
	got, err := render(t, "table {{upper .Names}}\t{{truncate .ID 1}}", rows...)
	if want := "NAMES      CONTAINER ID\nWEB        a\nDATABASE   b\n"; err != nil || got != want {
		t.Errorf("table with functions:\n%q (err %v), want\n%q", got, err, want)
	}
	// No rows: the header alone.
	if got, _ := render(t, "table {{.Names}}"); got != "NAMES\n" {
		t.Errorf("empty table: %q", got)
	}
	// json: a line per row.
	if got, _ := render(t, "json", rows...); strings.Count(got, "\n") != 2 || !strings.HasPrefix(got, `{"ID":"a1"`) {
		t.Errorf("json: %q", got)
	}
}

func TestErrors(t *testing.T) {
	for format, want := range map[string]string{
		"{{.Foo}}":   `template parsing error: template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type format.row`,
		"{{.ID":      "template parsing error: template: :1: unclosed action",
		"{{nosuch}}": `template parsing error: template: :1: function "nosuch" not defined`,
	} {
		got, err := render(t, format, row{ID: "x"})
		if err == nil || err.Error() != want || got != "" {
			t.Errorf("%s: output %q, error %v; want none and %q", format, got, err, want)
		}
	}
}

func TestDetails(t *testing.T) {
	type state struct {
		Status string
		Pid    int
	}
	v := struct {
		ID     string `json:"Id"`
		State  state
		Labels map[string]string
		Nets   map[string]map[string]string `json:"Networks"`
	}{"abc", state{"running", 42}, map[string]string{"a": "1"}, map[string]map[string]string{"my-net": {"IPAddress": "10.0.0.2"}}}
	var b bytes.Buffer
	f := `{{.Id}} {{.State.Status}} {{.State.Pid}} {{json .Labels}} {{(index .Networks "my-net").IPAddress}} {{range $k, $v := .Labels}}{{$k}}={{$v}}{{end}}`
	if err := Details(&b, f, []any{v, v}); err != nil {
		t.Fatal(err)
	}
	line := `abc running 42 {"a":"1"} 10.0.0.2 a=1` + "\n"
	if b.String() != line+line {
		t.Errorf("Details: %q", b.String())
	}
	b.Reset()
	err := Details(&b, "{{.State.Nope}}", []any{v})
	if want := `template parsing error: template: :1:8: executing "" at <.State.Nope>: map has no entry for key "Nope"`; err == nil || err.Error() != want || b.Len() > 0 {
		t.Errorf("unknown key: %v, output %q; want %q", err, b.String(), want)
	}
}

func TestLabels(t *testing.T) {
	if got := Labels(map[string]string{"b": "2", "a": "1"}); got != "a=1,b=2" {
		t.Errorf("Labels = %q", got)
	}
	if got := Labels(nil); got != "" {
		t.Errorf("Labels(nil) = %q", got)
	}
}
