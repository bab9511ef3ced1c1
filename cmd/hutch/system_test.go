package main

import (
	"strings"
	"testing"
)

func TestConfirm(t *testing.T) {
	for in, want := range map[string]bool{
		"y\n": true, "Y\n": true, " y \n": true, "y": true, // no newline: the answer still counts
		"": false, "\n": false, "n\n": false, "no\n": false, "yes\n": false, "maybe\n": false, // only y, as Docker
	} {
		var out strings.Builder
		if got := confirm(strings.NewReader(in), &out, "Sure?"); got != want {
			t.Errorf("confirm(%q) = %v, want %v", in, got, want)
		}
		if !strings.HasPrefix(out.String(), "Sure? [y/N] ") {
			t.Errorf("confirm(%q) printed %q, want the question and [y/N]", in, out.String())
		}
	}
}

func TestPruneOutput(t *testing.T) {
	for _, tt := range []struct {
		ctrs, nets []string
		size       int64
		want       string
	}{
		{nil, nil, 0, "Total reclaimed space: 0B\n"},
		{[]string{"a1", "b2"}, nil, 212, "Deleted Containers:\na1\nb2\n\nTotal reclaimed space: 212B\n"},
		{nil, []string{"n1"}, 0, "Deleted Networks:\nn1\n\nTotal reclaimed space: 0B\n"},
		{[]string{"a1"}, []string{"n1", "n2"}, 5120, "Deleted Containers:\na1\n\nDeleted Networks:\nn1\nn2\n\nTotal reclaimed space: 5.12kB\n"},
	} {
		if got := pruneOutput(tt.ctrs, tt.nets, tt.size); got != tt.want {
			t.Errorf("pruneOutput(%v, %v, %d) = %q, want %q", tt.ctrs, tt.nets, tt.size, got, tt.want)
		}
	}
}
