// Package format renders lists and details with Docker's --format: Go
// templates with Docker's functions, the "table" directive (headers and
// aligned columns) and "json" (one object per line).
package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
)

// Functions are Docker's template functions (docker/cli templates): the
// text/template built-ins (index, len, printf, eq...) come with every template.
var Functions = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(b.String()), nil
	},
	"split":    strings.Split,
	"join":     strings.Join,
	"title":    title,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      pad,
	"truncate": truncate,
}

// headerFunctions leave a header's text as it is: `{{upper .Names}}` heads
// its column NAMES, as in Docker.
var headerFunctions = template.FuncMap{
	"json":     func(v any) any { return v },
	"split":    func(v, _ string) string { return v },
	"join":     func(v any, _ string) any { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"pad":      func(v string, _, _ int) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

// title upper-cases each word's first letter as strings.Title (which
// Docker uses) does, without its deprecation: a word follows anything but
// a letter, a digit or '_'.
func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		sep := !(unicode.IsLetter(prev) || unicode.IsDigit(prev) || prev == '_')
		prev = r
		if sep {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

// pad adds prefix spaces before and suffix spaces after s.
func pad(s string, prefix, suffix int) string {
	if s == "" {
		return s
	}
	return strings.Repeat(" ", max(prefix, 0)) + s + strings.Repeat(" ", max(suffix, 0))
}

// truncate keeps the first n characters of s.
func truncate(s string, n int) string {
	if r := []rune(s); n >= 0 && len(r) > n {
		return string(r[:n])
	}
	return s
}

// IsTable reports whether format asks for a table.
func IsTable(format string) bool { return strings.HasPrefix(format, "table") }

// Parse makes a template of format, as Docker does: "\t" and "\n" typed
// as two characters become a tab and a newline.
func Parse(format string, funcs template.FuncMap) (*template.Template, error) {
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := template.New("").Funcs(funcs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %v", err)
	}
	return t, nil
}

// List writes rows with format: "" or "table" is the command's table
// (defaultTable), "table TEMPLATE" a table of TEMPLATE headed by header's
// names, "json" each row as JSON, anything else TEMPLATE per row. Nothing is
// written unless every row renders.
func List(w io.Writer, format, defaultTable string, header any, rows []any) error {
	switch format {
	case "", "table":
		format = defaultTable
	case "json":
		format = "{{json .}}"
	}
	table := IsTable(format)
	if table {
		format = strings.Trim(format[len("table"):], " ")
	}
	t, err := Parse(format, Functions)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	for _, row := range rows {
		if err := t.Execute(&out, row); err != nil {
			return fmt.Errorf("template parsing error: %v", err)
		}
		out.WriteByte('\n')
	}
	if !table {
		_, err := w.Write(out.Bytes())
		return err
	}
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 10, 1, 3, ' ', 0) // Docker's table
	if ht, err := Parse(format, headerFunctions); err == nil {
		var h bytes.Buffer
		if ht.Execute(&h, header) == nil && h.Len() > 0 {
			tw.Write(append(h.Bytes(), '\n'))
		}
	}
	tw.Write(out.Bytes())
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

// Details writes each value with format as `inspect -f` does: the template
// sees the value as its JSON (so keys are Docker's and an unknown one is
// "map has no entry for key"), one line per value.
func Details(w io.Writer, format string, values []any) error {
	t, err := Parse(format, Functions)
	if err != nil {
		return err
	}
	t.Option("missingkey=error")
	var out bytes.Buffer
	for _, v := range values {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // 1e9 stays 1000000000
		if err := dec.Decode(&generic); err != nil {
			return err
		}
		if err := t.Execute(&out, generic); err != nil {
			return fmt.Errorf("template parsing error: %v", err)
		}
		out.WriteByte('\n')
	}
	_, err = w.Write(out.Bytes())
	return err
}

// Labels is Docker's LABELS column: k=v pairs, sorted, comma-separated.
func Labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}
