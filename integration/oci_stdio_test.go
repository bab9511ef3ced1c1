//go:build integration

package integration

// The container's stdio: pipes given to create (as containerd's shim
// does), and a terminal whose master goes to --console-socket.

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The pipes passed as create's stdio are the container process's: it
// reads stdin, and its output arrives after start.
func TestOCIStdioPipes(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	id := e.id("pipes")
	b := e.bundle(id, shSpec(`read line; echo "out:$line"; echo "err:$line" >&2`))
	var ends []*os.File
	pipe := func() (*os.File, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, r, w)
		return r, w
	}
	defer func() {
		for _, f := range ends {
			f.Close()
		}
	}()
	inR, inW := pipe()
	outR, outW := pipe()
	errR, errW := pipe()
	cmd := exec.Command(e.bin, "--root", e.root, "create", "--bundle", b, id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	type read struct {
		b   []byte
		err error
	}
	readAll := func(f *os.File) chan read {
		ch := make(chan read, 1)
		go func() { b, err := io.ReadAll(f); ch <- read{b, err} }()
		return ch
	}
	outCh, errCh := readAll(outR), readAll(errR)
	runErr := e.runTimeout(cmd)
	// Only the container holds the other ends now.
	inR.Close()
	outW.Close()
	errW.Close()
	if runErr != nil {
		select {
		case r := <-errCh:
			t.Fatalf("create: %v: %s", runErr, r.b)
		case <-time.After(10 * time.Second):
			t.Fatalf("create: %v", runErr)
		}
	}
	c := &ociCtr{e: e, id: id, bundle: b}
	e.notePid(c.state().Pid)
	if _, err := inW.WriteString("hello\n"); err != nil {
		t.Fatal(err)
	}
	inW.Close()
	c.start()
	for name, ch := range map[string]chan read{"out:hello\n": outCh, "err:hello\n": errCh} {
		select {
		case r := <-ch:
			if r.err != nil || string(r.b) != name {
				t.Errorf("container's pipe: %q, %v; want %q", r.b, r.err, name)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("no end of the container's output (want %q)", name)
		}
	}
	c.waitStatus(specs.StateStopped)
	c.delete()
}

// terminal: true with --console-socket: the runtime sends the pty master
// over the socket (SCM_RIGHTS); the container's stdio is the pty, of
// consoleSize, and /dev/console is it.
func TestOCIConsoleSocket(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	sock := filepath.Join(e.dir, "console.sock")
	master := ociConsoleServer(t, sock)
	spec := shSpec("tty; stty size; test -c /dev/console && echo console; test -t 0 && test -t 2 && echo all-tty; echo hello-tty")
	spec.Process.Terminal = true
	spec.Process.ConsoleSize = &specs.Box{Height: 30, Width: 100}
	c := e.create("tty", spec, "--console-socket", sock)
	var m *os.File
	select {
	case m = <-master:
	case <-time.After(10 * time.Second):
	}
	if m == nil {
		t.Fatal("no pty master received on the console socket")
	}
	defer m.Close()
	got := ociReadPty(m)
	c.start()
	c.waitStatus(specs.StateStopped)
	var out string
	select {
	case out = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the pty master did not reach the end of the container's output")
	}
	out = strings.ReplaceAll(out, "\r\n", "\n")
	if want := "/dev/pts/0\n30 100\nconsole\nall-tty\nhello-tty\n"; out != want {
		t.Errorf("output through the pty %q, want %q", out, want)
	}
	c.delete()
}

// ociConsoleServer listens on sock and sends on the channel the one fd the
// first connection passes (SCM_RIGHTS); the channel closes without one if
// none comes.
func ociConsoleServer(t *testing.T, sock string) <-chan *os.File {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	master := make(chan *os.File, 1)
	go func() {
		defer close(master)
		conn, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			return
		}
		master <- os.NewFile(uintptr(fds[0]), "pty-master")
	}()
	return master
}

// ociReadPty reads the pty master until the last slave fd closes (EIO) and
// sends what it read, "\r\n" made "\n".
func ociReadPty(m *os.File) <-chan string {
	got := make(chan string, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				if !errors.Is(err, unix.EIO) && !errors.Is(err, io.EOF) {
					b.WriteString("\nread error: " + err.Error())
				}
				break
			}
		}
		got <- strings.ReplaceAll(b.String(), "\r\n", "\n")
	}()
	return got
}

// exec --detach --tty --console-socket (as containerd's shim calls it):
// the exec'd process's stdio is a new pty whose master comes over the
// socket.
func TestOCIExecTTY(t *testing.T) {
	t.Parallel()
	e := newOCIEnv(t)
	c := e.create("exectty", shSpec("exec sleep 1000"))
	c.start()
	sock := filepath.Join(e.dir, "exec.sock")
	master := ociConsoleServer(t, sock)
	// The process's stdio is the pty, so exec's own may be pipes.
	r := e.run("exec", "--detach", "--tty", "--console-socket", sock, c.id, "sh", "-c", "tty; test -t 0 && test -t 2 && echo exec-tty")
	if r.code != 0 {
		t.Fatalf("exec --detach --tty: %s", r)
	}
	var m *os.File
	select {
	case m = <-master:
	case <-time.After(10 * time.Second):
	}
	if m == nil {
		t.Fatal("no pty master received on the console socket")
	}
	defer m.Close()
	select {
	case out := <-ociReadPty(m):
		if out != "/dev/pts/1\nexec-tty\n" && out != "/dev/pts/0\nexec-tty\n" {
			t.Errorf("output through the pty %q, want its tty and exec-tty", out)
		}
	case <-time.After(10 * time.Second):
		t.Error("the pty master did not reach the end of the exec'd output")
	}
	e.ok("kill", c.id, "KILL")
	c.waitStatus(specs.StateStopped)
	c.delete()
}
