# StackHub developer / CI entry points.
#   make run       start the server (go run ./cmd/stackhub serve)
#   make build     static binary in bin/stackhub
#   make testenv   install/start Docker Engine, PostgreSQL, Chromium (scripts/testenv.sh)
#   make test      testenv + go vet + staticcheck + go test -race + each fuzz target for $(TEST_FUZZTIME)
#   make lint      go vet + staticcheck
#   make fuzz      each fuzz target for $(FUZZTIME)
#   make bench     bench/run.sh

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO ?= go
TESTENV_FILE := /tmp/stackhub-testenv.env
TEST_FLAGS ?= -race -count=1 -timeout 20m
PKGS ?= ./...
TEST_FUZZTIME ?= 3s
FUZZTIME ?= 1m

.PHONY: run build testenv test vet lint fuzz bench

run:
	$(GO) run ./cmd/stackhub serve

build:
	CGO_ENABLED=0 $(GO) build -o bin/stackhub ./cmd/stackhub

testenv:
	bash scripts/testenv.sh

vet:
	$(GO) vet $(PKGS)

# staticcheck is a tool dependency in go.mod (go get -tool), so its version is pinned with the module's.
lint: vet
	$(GO) tool staticcheck $(PKGS)

fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

test: testenv
	. $(TESTENV_FILE) && $(GO) vet $(PKGS) && $(GO) tool staticcheck $(PKGS) && \
		CGO_ENABLED=1 $(GO) test $(TEST_FLAGS) $(PKGS) && GO=$(GO) FUZZTIME=$(TEST_FUZZTIME) bash scripts/fuzz.sh

bench:
	bash bench/run.sh
