package trace

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteText prints the trace as numbered hops, one a line, then the
// verdict. With colour, disagreements with hutch's records are in red.
func (r *Result) WriteText(w io.Writer, colour bool) error {
	red, bold, reset := "", "", ""
	if colour {
		red, bold, reset = "\x1b[31m", "\x1b[1m", "\x1b[0m"
	}
	fmt.Fprintf(w, "trace from %s to %s\n", r.From, r.Target)
	for i, h := range r.Hops {
		line := fmt.Sprintf("%2d  %s", i+1, h.Text)
		if h.Problem != "" {
			line += fmt.Sprintf("  %s[%s]%s", red, h.Problem, reset)
		}
		fmt.Fprintln(w, line)
	}
	_, err := fmt.Fprintf(w, "    %s%s%s\n", bold, r.Verdict.Text, reset)
	return err
}

// WriteJSON prints the trace as one JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
