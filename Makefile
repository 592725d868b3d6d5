# StackHub developer / CI entry points.
#   make run       start the server (go run ./cmd/stackhub serve)
#   make build     static binary in bin/stackhub
#   make testenv   install/start Docker Engine, PostgreSQL, Chromium (scripts/testenv.sh)
#   make test      testenv + go vet + go test -race
#   make bench     bench/run.sh

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO ?= go
TESTENV_FILE := /tmp/stackhub-testenv.env
TEST_FLAGS ?= -race -count=1 -timeout 20m
PKGS ?= ./...

.PHONY: run build testenv test vet bench

run:
	$(GO) run ./cmd/stackhub serve

build:
	CGO_ENABLED=0 $(GO) build -o bin/stackhub ./cmd/stackhub

testenv:
	bash scripts/testenv.sh

vet:
	$(GO) vet $(PKGS)

test: testenv
	. $(TESTENV_FILE) && $(GO) vet $(PKGS) && CGO_ENABLED=1 $(GO) test $(TEST_FLAGS) $(PKGS)

bench:
	bash bench/run.sh
