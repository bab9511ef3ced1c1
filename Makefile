# hutch: build, test, demo and benchmarks. Everything here runs as root.
SHELL   := /bin/bash
GO      ?= $(shell command -v go || echo /usr/local/go/bin/go)
BIN     := $(CURDIR)/bin/hutch
# The team's leak check, when this clone sits beside shared/ (CI); the
# integration tests also check for their own leftovers either way.
LEAK    := $(or $(wildcard ../shared/tools/leakcheck),true)
SOURCES := $(shell find cmd runtime rootfs network dns -name '*.go' -o -name '*.c' -o -name '*.h') go.mod go.sum

.PHONY: all build deps test unit integration vet demo bench clean

all: build

build: $(BIN)

# hutch is linked statically against musl: every start of the binary (the
# CLI, the container's init, the process exec enters with) skips the dynamic
# loader and glibc's start-up, whose cpuid probing is dear under a hypervisor. Together
# that is about 1 ms per process. musl has no kernel headers of its own, so
# the C parts see the host's linux/ and asm/ through bin/musl-include.
MUSL_INC := $(CURDIR)/bin/musl-include
# Without the symbol table and DWARF a start is another 0.15 ms faster; Go's
# own stack traces keep their names. `make -B STRIP= build` keeps them for perf.
STRIP    ?= -s -w
# Expanded in the recipe, after deps has installed gcc on a fresh machine.
ARCH_INC = $(firstword $(wildcard /usr/include/$(shell gcc -dumpmachine 2>/dev/null)/asm) /usr/include/asm)

$(BIN): $(SOURCES)
	@command -v musl-gcc >/dev/null || { echo "musl-gcc is missing: run make deps (apt-get install musl-tools)" >&2; exit 1; }
	@mkdir -p $(MUSL_INC) && ln -sfn /usr/include/linux $(MUSL_INC)/linux && \
		ln -sfn /usr/include/asm-generic $(MUSL_INC)/asm-generic && ln -sfn $(ARCH_INC) $(MUSL_INC)/asm
	CC=musl-gcc CGO_ENABLED=1 CGO_CFLAGS="-O2 -isystem $(MUSL_INC)" $(GO) build \
		-tags 'urfave_cli_no_docs netgo osusergo' -ldflags '$(STRIP) -linkmode external -extldflags -static' \
		-o $(BIN) ./cmd/hutch
	@# Called hutch-runc, the same binary speaks runc's command line (an OCI runtime).
	@ln -sfn hutch $(CURDIR)/bin/hutch-runc

# Installs what hutch and its tests need, only when it is missing.
deps:
	@need=""; \
	dpkg -s busybox-static >/dev/null 2>&1 || need="$$need busybox-static"; \
	command -v gcc >/dev/null || need="$$need gcc libc6-dev"; \
	command -v musl-gcc >/dev/null || need="$$need musl-tools"; \
	test -d /usr/include/linux || need="$$need linux-libc-dev"; \
	command -v script >/dev/null || need="$$need bsdutils"; \
	command -v ip >/dev/null || need="$$need iproute2"; \
	command -v nft >/dev/null || need="$$need nftables"; \
	test -x /usr/bin/docker-registry || need="$$need docker-registry"; \
	command -v skopeo >/dev/null || need="$$need skopeo"; \
	command -v curl >/dev/null || need="$$need curl"; \
	command -v dig >/dev/null || need="$$need bind9-dnsutils"; \
	command -v containerd >/dev/null || need="$$need containerd"; \
	command -v runc >/dev/null || need="$$need runc"; \
	test -x /usr/lib/cni/bridge || need="$$need containernetworking-plugins"; \
	command -v jq >/dev/null || need="$$need jq"; \
	command -v crun >/dev/null || need="$$need crun"; \
	if [ -n "$$need" ]; then \
		echo "installing:$$need"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	fi
# crictl (Kubernetes' CRI client) for integration/node.sh, where node-lib.sh looks for it.
	@command -v crictl >/dev/null || test -x $$HOME/go/bin/crictl || \
		{ echo "installing: crictl"; GOBIN=$$HOME/go/bin $(GO) install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0; }

vet:
	$(GO) vet ./...
	$(GO) vet -tags integration ./integration/...
	@test -z "$$(gofmt -l cmd runtime rootfs network dns integration)" || { gofmt -l cmd runtime rootfs network dns integration; exit 1; }

unit:
	$(GO) test -count=1 ./...

integration: build
	@$(LEAK) snapshot /tmp/hutch-leak.$$PPID
	HUTCH_BIN=$(BIN) $(GO) test -count=1 -timeout 20m -tags integration ./integration/... ; rc=$$?; \
	$(LEAK) diff /tmp/hutch-leak.$$PPID || rc=1; rm -f /tmp/hutch-leak.$$PPID; exit $$rc

test: deps vet unit integration

demo: deps build
	@./integration/demo.sh $(BIN)

bench: deps build
	@for t in iperf3 dnsperf skopeo; do command -v $$t >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$t >/dev/null || true; done
	@dpkg -s aardvark-dns >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq aardvark-dns >/dev/null || true
	@./integration/bench.sh $(BIN)

clean:
	rm -rf bin
