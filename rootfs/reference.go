package rootfs

import (
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is the registry a name without one means. go-containerregistry calls it
// index.docker.io; Docker shows and stores docker.io.
const (
	dockerHub     = "docker.io"
	dockerHubGGCR = "index.docker.io"
)

// ParseReference reads a registry reference by Docker's rules: "busybox" is
// docker.io/library/busybox:latest, "localhost:5000/x" is on localhost:5000. It returns the
// library's reference (marked insecure for a loopback registry, as Docker allows plain HTTP
// only there by default) and the canonical name hutch stores the image under.
func ParseReference(s string) (name.Reference, string, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, "", fmt.Errorf("invalid reference %q: %w", s, err)
	}
	// The library allows any of [a-z0-9_.-] in a path component; Docker's grammar wants each to
	// start and end with a letter or digit, which also keeps ".." out.
	for _, c := range strings.Split(ref.Context().RepositoryStr(), "/") {
		if !alnumEnds(c) {
			return nil, "", fmt.Errorf("invalid reference %q: path component %q", s, c)
		}
	}
	host := ref.Context().RegistryStr()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, label := range strings.Split(host, ".") {
		if !strings.HasPrefix(host, "[") && !alnumEnds(strings.ToLower(label)) {
			return nil, "", fmt.Errorf("invalid reference %q: registry %q", s, ref.Context().RegistryStr())
		}
	}
	if loopbackRegistry(ref.Context().RegistryStr()) {
		if ref, err = name.ParseReference(s, name.Insecure); err != nil {
			return nil, "", fmt.Errorf("invalid reference %q: %w", s, err)
		}
	}
	return ref, canonical(ref), nil
}

// canonical is the full name: registry/repository:tag or registry/repository@digest.
func canonical(ref name.Reference) string {
	reg := ref.Context().RegistryStr()
	if reg == dockerHubGGCR {
		reg = dockerHub
	}
	sep := ":"
	if _, ok := ref.(name.Digest); ok {
		sep = "@"
	}
	return reg + "/" + ref.Context().RepositoryStr() + sep + ref.Identifier()
}

// Familiar splits a canonical name into Docker's REPOSITORY and TAG columns:
// docker.io/library/busybox:latest shows as busybox, latest; a digest has the tag <none>.
func Familiar(canon string) (repo, tag string) {
	if _, ok := untaggedID(canon); ok {
		return "<none>", "<none>"
	}
	repo, tag = canon, "latest"
	if i := strings.LastIndex(canon, "@"); i >= 0 {
		repo, tag = canon[:i], "<none>"
	} else if i := strings.LastIndex(canon, ":"); i > strings.LastIndex(canon, "/") {
		repo, tag = canon[:i], canon[i+1:]
	}
	repo = strings.TrimPrefix(repo, dockerHub+"/")
	repo = strings.TrimPrefix(repo, "library/")
	return repo, tag
}

// loopbackRegistry reports whether host[:port] is localhost or on 127.0.0.0/8 or ::1.
func loopbackRegistry(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func alnumEnds(c string) bool {
	isAlnum := func(b byte) bool { return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' }
	return c != "" && isAlnum(c[0]) && isAlnum(c[len(c)-1])
}

// untaggedID reports whether name is "sha256:" and an image ID: the name of an image loaded
// without one, which only its ID reaches.
func untaggedID(name string) (string, bool) {
	h, err := digestHex(name)
	return h, err == nil
}
