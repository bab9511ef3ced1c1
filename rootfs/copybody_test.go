package rootfs

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyBody copies a limited file in the kernel, stops at the limit, tells a short source by
// what is left of the limit, and copies any other reader as io.Copy does.
func TestCopyBody(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789"), 300000) // 3 MB
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit    int64
		wantN    int64
		wantLeft int64
	}{
		{int64(len(data)), int64(len(data)), 0},
		{1000, 1000, 0},
		{int64(len(data)) + 5, int64(len(data)), 5}, // the file is shorter than said
	} {
		in, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, "dst"))
		if err != nil {
			t.Fatal(err)
		}
		lr := &io.LimitedReader{R: in, N: tc.limit}
		n, err := copyBody(out, lr)
		in.Close()
		out.Close()
		if err != nil || n != tc.wantN || lr.N != tc.wantLeft {
			t.Errorf("limit %d: n %d, left %d, %v; want %d, %d", tc.limit, n, lr.N, err, tc.wantN, tc.wantLeft)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "dst"))
		if !bytes.Equal(got, data[:tc.wantN]) {
			t.Errorf("limit %d: %d bytes of other content", tc.limit, len(got))
		}
	}
	out, err := os.Create(filepath.Join(dir, "dst2"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if n, err := copyBody(out, strings.NewReader("not a file")); err != nil || n != 10 {
		t.Errorf("a reader: %d %v", n, err)
	}
}
