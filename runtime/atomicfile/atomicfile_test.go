package atomicfile

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestWrite(t *testing.T) {
	for name, write := range map[string]func(string, []byte, os.FileMode) error{"Write": Write, "WriteVolatile": WriteVolatile} {
		p := filepath.Join(t.TempDir(), "f")
		for _, content := range []string{"one", "two", "three"} {
			if err := write(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(p); string(b) != content {
				t.Errorf("%s: content = %q, want %q", name, b, content)
			}
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", name, fi.Mode(), err)
		}
		ents, _ := os.ReadDir(filepath.Dir(p))
		if len(ents) != 1 {
			t.Errorf("%s: temp files left: %v", name, ents)
		}
	}
}

// On ext4, a rename over a file gets the new one allocated on disk at once
// (auto_da_alloc); after WriteVolatile's exchange, its one extent is still
// only reserved in memory (FIEMAP_EXTENT_DELALLOC).
func TestWriteVolatileStaysInMemoryOnExt4(t *testing.T) {
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil || fs.Type != unix.EXT4_SUPER_MAGIC {
		t.Skip("not ext4")
	}
	delalloc := func(write func(string, []byte, os.FileMode) error, name string) bool {
		p := filepath.Join(dir, name)
		if err := write(p, []byte("created"), 0o600); err != nil {
			t.Fatal(err)
		}
		if !onlyDelalloc(t, p) { // nodelalloc, data=journal, or a sync just now
			t.Skip("a new file is not left in memory here")
		}
		if err := write(p, []byte("replaced"), 0o600); err != nil {
			t.Fatal(err)
		}
		return onlyDelalloc(t, p)
	}
	if !delalloc(WriteVolatile, "volatile") {
		t.Error("WriteVolatile over a file: its data was allocated on disk at once")
	}
	if delalloc(Write, "durable") {
		t.Log("Write over a file: data not allocated at once (auto_da_alloc off?)")
	}
}

// onlyDelalloc reports whether every extent of path is delayed allocation.
func onlyDelalloc(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const (
		fsIocFiemap     = 0xC020660B // _IOWR('f', 11, struct fiemap)
		extentDelalloc  = 0x4
		headerSize      = 32 // struct fiemap
		extentSize      = 56 // struct fiemap_extent
		extentFlagsAt   = 40 // fe_flags in an extent
		mappedExtentsAt = 20 // fm_mapped_extents
	)
	buf := make([]byte, headerSize+4*extentSize)
	binary.NativeEndian.PutUint64(buf[8:], ^uint64(0)) // fm_length: all
	binary.NativeEndian.PutUint32(buf[24:], 4)         // fm_extent_count
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0]))); errno != 0 {
		t.Skipf("FIEMAP: %v", errno)
	}
	n := int(binary.NativeEndian.Uint32(buf[mappedExtentsAt:]))
	if n == 0 {
		t.Fatalf("%s: no extents", path)
	}
	for i := range n {
		if binary.NativeEndian.Uint32(buf[headerSize+i*extentSize+extentFlagsAt:])&extentDelalloc == 0 {
			return false
		}
	}
	return true
}
