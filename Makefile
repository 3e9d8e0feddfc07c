# Palisade build, test and tooling. `make help` lists the targets.
# `sudo make demo` runs with sudo's PATH, which often lacks the Go install directory.
GO        ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN       := bin
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/palisadenet/palisade/internal/version.Version=$(VERSION)
CMDS      := palisade-node palisade-cni palisade-controllers palisadectl
STATICCHECK_VERSION ?= v0.8.2
TEST_TIMEOUT ?= 80m

.PHONY: help demo demo-bin demo-cleanup build test unit lint generate bench bench-calc bench-nft bench-ipt bench-ipam bench-bgp bench-e2e clean

help:
	@echo "demo       (as root) two-node cluster in network namespaces, BGP, the allow-tcp-6379 policy"
	@echo "build      build $(CMDS) into $(BIN)/"
	@echo "test       unit tests; as root also netns integration and control-plane tests"
	@echo "lint       gofmt, go vet, staticcheck"
	@echo "generate   regenerate deepcopy and CRD YAML from api/"
	@echo "bench      all benchmarks (bench-calc, bench-nft, bench-ipt, bench-ipam, bench-bgp, bench-e2e)"

build:
	@mkdir -p $(BIN)
	@for c in $(CMDS); do $(GO) build -buildvcs=false -ldflags "$(LDFLAGS)" -o $(BIN)/$$c ./cmd/$$c || exit 1; done

# The policy the demo applies: the seed's example when ../shared is beside the
# checkout, else the copy in demo/.
DEMO_POLICY ?= $(firstword $(wildcard ../shared/examples/allow-tcp-6379.yaml) demo/allow-tcp-6379.yaml)
demo:
	@sh hack/demo-setup.sh
	@$(MAKE) --no-print-directory build demo-bin
	$(BIN)/palisade-demo --bin $(BIN) --policy $(DEMO_POLICY)

# A sub-make, so GO is looked up again after hack/demo-setup.sh may have installed it.
demo-bin:
	$(GO) build -buildvcs=false -o $(BIN)/palisade-demo ./demo

demo-cleanup:
	$(GO) run -buildvcs=false ./demo --cleanup

# Tests that need root, kernel features or tools skip themselves with a reason.
test: build
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

unit:
	$(GO) test -count=1 -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# Deepcopy and CRD YAML from api/v3 (controller-gen from the module proxy, pinned).
CONTROLLER_GEN_VERSION ?= v0.23.0
generate:
	GO=$(GO) CONTROLLER_GEN_VERSION=$(CONTROLLER_GEN_VERSION) sh hack/generate.sh

BENCHFLAGS ?= -run '^$$' -benchmem -count 5
bench: bench-calc bench-nft bench-ipt bench-ipam bench-bgp bench-e2e
bench-calc:
	$(GO) test $(BENCHFLAGS) -bench . ./policy/... ./calc/...
bench-nft:
	$(GO) test $(BENCHFLAGS) -bench . ./dataplane/nftables/...
bench-ipt:
	$(GO) test $(BENCHFLAGS) -bench . ./dataplane/iptables/...
bench-ipam:
	$(GO) test $(BENCHFLAGS) -bench . ./routing/ipam/...
bench-bgp:
	$(GO) test $(BENCHFLAGS) -bench . ./routing/bgp/...
bench-e2e:
	$(GO) test $(BENCHFLAGS) -bench . ./test/bench/...

clean:
	rm -rf $(BIN)
