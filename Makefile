# paceline: native Pacemaker agents in one Go binary.

SHELL      := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

GO         ?= go
VERSION    ?= $(shell packaging/version.sh)
LDFLAGS    := -s -w -X github.com/paceline-ha/paceline/agents.Version=$(VERSION)
GOFLAGS    := -trimpath
BIN        := build/paceline
LIBVIRT_BIN := build/paceline-libvirt
FENCE_BIN  := build/paceline-fence
# paceline is static and without cgo: a dynamically linked Go binary costs
# about 0.6 ms more CPU at every start, a third of a whole monitor.
# paceline-libvirt is the same program with cgo and libvirt (loaded with
# dlopen, so it starts without libvirt too); paceline hands it the
# VirtualDomain actions (see main.go).
# paceline-fence is paceline with the IPMI library (tag ipmi), static
# too; the fence agents are links to it, and its library's start-up work
# stays out of the OCF agents' processes.
TAGS       := libvirt_dlopen,ipmi
STATIC     := CGO_ENABLED=0
DYNAMIC    := CGO_ENABLED=1

PREFIX     ?= /usr
DESTDIR    ?=
SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/paceline
OCFDIR     ?= /usr/lib/ocf/resource.d/paceline

.PHONY: trixie demo-drbd demo-nfs all build install uninstall metadata test unit system deps bench demo demo-shell demo-down plcluster clean vet packages

all: build

build:
	$(STATIC) $(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN) .
	$(DYNAMIC) $(GO) build $(GOFLAGS) -tags libvirt_dlopen -ldflags '$(LDFLAGS)' -o $(LIBVIRT_BIN) .
	$(STATIC) $(GO) build $(GOFLAGS) -tags ipmi -ldflags '$(LDFLAGS)' -o $(FENCE_BIN) .

# The binaries, one link per OCF agent to paceline, and one link per
# fence agent (and alias) in SBINDIR to paceline-fence.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/paceline
	install -D -m 0755 $(LIBVIRT_BIN) $(DESTDIR)$(LIBEXECDIR)/paceline-libvirt
	install -D -m 0755 $(FENCE_BIN) $(DESTDIR)$(LIBEXECDIR)/paceline-fence
	install -d -m 0755 $(DESTDIR)$(OCFDIR)
	for a in $$($(BIN) list --names --kind ocf); do \
		ln -sfn $(SBINDIR)/paceline $(DESTDIR)$(OCFDIR)/$$a; \
	done
	for a in $$($(BIN) list --names --kind fence); do \
		ln -sfn $(LIBEXECDIR)/paceline-fence $(DESTDIR)$(SBINDIR)/$$a; \
	done

uninstall:
	for a in $$($(BIN) list --names --kind ocf); do rm -f $(DESTDIR)$(OCFDIR)/$$a; done
	for a in $$($(BIN) list --names --kind fence); do rm -f $(DESTDIR)$(SBINDIR)/$$a; done
	rm -f $(DESTDIR)$(SBINDIR)/paceline $(DESTDIR)$(LIBEXECDIR)/paceline-libvirt $(DESTDIR)$(LIBEXECDIR)/paceline-fence

# The deb and the rpm, with nfpm (pinned in packaging/tools/go.mod):
# packaging/gen renders the man pages from the metadata and completes
# packaging/nfpm.yaml with the agent links from the registry.
NFPM       := build/tools/nfpm
PKGDIR     := build/packages
# The commit's time: the man pages' date and every time stamp in the
# packages (nfpm honours SOURCE_DATE_EPOCH), so that they are reproducible.
EPOCH      ?= $(shell git -c safe.directory='*' log -1 --format=%ct 2>/dev/null || date +%s)
MANDATE    ?= $(shell date -u -d @$(EPOCH) +%F)

$(NFPM): packaging/tools/go.mod packaging/tools/go.sum
	mkdir -p $(dir $(NFPM))
	cd packaging/tools && $(STATIC) $(GO) build -trimpath -o $(CURDIR)/$(NFPM) github.com/goreleaser/nfpm/v2/cmd/nfpm

packages: build $(NFPM)
	$(STATIC) $(GO) run ./packaging/gen -version '$(VERSION)' -date '$(MANDATE)' -out build/package
	rm -rf $(PKGDIR) && mkdir -p $(PKGDIR)
	SOURCE_DATE_EPOCH=$(EPOCH) $(NFPM) package -f build/package/nfpm.yaml -p deb -t $(PKGDIR)/
	SOURCE_DATE_EPOCH=$(EPOCH) $(NFPM) package -f build/package/nfpm.yaml -p rpm -t $(PKGDIR)/

# Regenerate metadata/*.xml from the Go definitions.
metadata:
	$(DYNAMIC) $(GO) test -tags $(TAGS) ./agents -run TestMetadataCurrent -update -count=1

deps:
	@if [ "$$(id -u)" -eq 0 ]; then tests/install-deps.sh; \
	else echo "make: not root, Debian packages not installed; system tests will skip"; fi

vet:
	$(STATIC) $(GO) vet ./...
	$(STATIC) $(GO) vet -tags ipmi ./...
	$(DYNAMIC) $(GO) vet -tags $(TAGS) ./...
	$(DYNAMIC) $(GO) vet -tags system,capture,$(TAGS) ./tests/...

# With cgo and ipmi, so that the libvirt and IPMI code is compiled and
# its tests run.
unit:
	$(DYNAMIC) $(GO) test -tags $(TAGS) -count=1 ./...

# The system tiers: root, network namespaces, the real tools. The
# cluster tier runs the agents under Pacemaker, which finds them where
# make install puts them (as root only: without root the tiers skip, and
# fail under CI). They run with -v, so the recovery times show (the
# cluster filesystems' crash timeline and the NFS clients' outages too). The
# packages tier installs and purges the deb on this machine, then puts
# back what make install had put there.
system: build packages
	@if [ "$$(id -u)" -eq 0 ]; then $(MAKE) --no-print-directory install trixie; fi
	PACELINE_BIN=$(CURDIR)/$(BIN) PACELINE_PACKAGES=$(CURDIR)/$(PKGDIR) PACELINE_TRIXIE_ROOT=$$(cat $(TRIXIE) 2>/dev/null) \
		$(DYNAMIC) $(GO) test -tags system,$(TAGS) -count=1 -timeout 30m -p 1 \
		$$($(GO) list -tags system,$(TAGS) ./tests/... | grep -v -e '/tests/cluster$$' -e '/tests/pacemaker3$$' -e '/tests/clusterfs$$' -e '/tests/nfs$$')
	PACELINE_BIN=$(CURDIR)/$(BIN) PACELINE_TRIXIE_ROOT=$$(cat $(TRIXIE) 2>/dev/null) \
		$(DYNAMIC) $(GO) test -tags system,$(TAGS) -count=1 -timeout 30m -p 1 -v ./tests/cluster ./tests/pacemaker3 ./tests/clusterfs ./tests/nfs

# The Debian 13 userspace of the Pacemaker 3 tiers (tests/trixie-root.sh:
# built once, cached), with paceline installed into it; its path goes to
# $(TRIXIE) for make system.
TRIXIE     := build/trixie-root
trixie: build
	root=$$(tests/trixie-root.sh) && $(MAKE) --no-print-directory install DESTDIR=$$root && echo $$root >$(TRIXIE)

test: deps vet unit
	tests/validate-metadata.sh
	$(MAKE) --no-print-directory system

bench: deps install
	$(DYNAMIC) $(GO) run -tags $(TAGS) ./tests/bench -bin $(CURDIR)/$(BIN) -out BENCHMARKS.md

# plcluster drives the namespace cluster (tests/nscluster) from the shell.
PLCLUSTER  := build/plcluster
NODE       ?= 1

plcluster:
	$(DYNAMIC) $(GO) build $(GOFLAGS) -tags $(TAGS) -o $(PLCLUSTER) ./tests/plcluster

# A 3-node cluster running paceline, left running: demo-shell, demo-down.
demo: deps install plcluster
	tests/demo.sh $(CURDIR)/$(PLCLUSTER)

# The replicated-storage cluster of the guides in two qemu guests (DRBD,
# paceline's agents, IPMI fencing): a crash of the primary, with a
# timeline; everything is removed at the end.
demo-drbd: deps install
	$(DYNAMIC) $(GO) run -tags $(TAGS) ./tests/drbddemo

# The same with the NFS service (nfsserver, exportfs) in the group and a
# client guest whose writes and locks go through the crash.
demo-nfs: deps install
	$(DYNAMIC) $(GO) run -tags $(TAGS) ./tests/drbddemo -nfs

demo-shell:
	@[ -x $(PLCLUSTER) ] || $(MAKE) --no-print-directory plcluster
	$(PLCLUSTER) shell $(NODE)

demo-down:
	@[ -x $(PLCLUSTER) ] || $(MAKE) --no-print-directory plcluster
	$(PLCLUSTER) down

clean:
	rm -rf build
