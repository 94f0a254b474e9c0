# paceline: native Pacemaker agents in one Go binary.

SHELL      := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

GO         ?= go
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X github.com/paceline-ha/paceline/agents.Version=$(VERSION)
GOFLAGS    := -trimpath
BIN        := build/paceline
# Static and without cgo: no dynamic loader at every start, which is most
# of what a monitor costs (about 0.6 ms of 1.5 ms CPU per call).
export CGO_ENABLED := 0

PREFIX     ?= /usr
DESTDIR    ?=
SBINDIR    ?= $(PREFIX)/sbin
OCFDIR     ?= /usr/lib/ocf/resource.d/paceline

.PHONY: all build install uninstall metadata test unit system deps bench demo clean vet

all: build

build:
	$(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN) .

# The binary, and one link per OCF agent pointing at it.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/paceline
	install -d -m 0755 $(DESTDIR)$(OCFDIR)
	for a in $$($(BIN) list --names --kind ocf); do \
		ln -sfn $(SBINDIR)/paceline $(DESTDIR)$(OCFDIR)/$$a; \
	done

uninstall:
	for a in $$($(BIN) list --names --kind ocf); do rm -f $(DESTDIR)$(OCFDIR)/$$a; done
	rm -f $(DESTDIR)$(SBINDIR)/paceline

# Regenerate metadata/*.xml from the Go definitions.
metadata:
	$(GO) test ./agents -run TestMetadataCurrent -update -count=1

deps:
	@if [ "$$(id -u)" -eq 0 ]; then tests/install-deps.sh; \
	else echo "make: not root, Debian packages not installed; system tests will skip"; fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags system ./tests/...

unit:
	$(GO) test -count=1 ./...

# The system tiers: root, network namespaces, the real tools.
system: build
	PACELINE_BIN=$(CURDIR)/$(BIN) $(GO) test -tags system -count=1 -timeout 20m -p 1 ./tests/...

test: deps vet unit
	tests/validate-metadata.sh
	$(MAKE) --no-print-directory system

bench: deps build
	$(GO) run ./tests/bench -bin $(CURDIR)/$(BIN) -out BENCHMARKS.md

demo: deps build
	tests/demo.sh $(CURDIR)/$(BIN)

clean:
	rm -rf build
