# Everything a fresh machine with only Go needs: the tools are pinned Go tools
# (buf in tools/go.mod, the protoc plugins in go.mod) and built on first use.
GO      ?= go
BUF     := $(GO) tool -modfile=tools/go.mod buf
GOFILES  = $(shell git ls-files --cached --others --exclude-standard '*.go' | grep -v '^gen/')

.PHONY: all generate sync-schema lint test bench fuzz demo ci check-generated breaking

all: lint test

## generate: regenerate gen/ from proto/ with buf and the pinned plugins
generate:
	$(BUF) generate

## sync-schema: write proto/kentik/ from Kentik's published schema (SCHEMA=FILE, a buf image, binary or JSON); then make generate
SCHEMA ?= ../shared/kentik-api-v6/descriptor.json
sync-schema:
	$(GO) run ./internal/schema/syncschema '$(SCHEMA)'

## lint: buf lint, buf format, gofmt and go vet
lint:
	$(BUF) lint
	$(BUF) format --diff --exit-code
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## test: every test, with the race detector
test:
	$(GO) test -race -count=1 ./...

## bench: the benchmarks whose figures the README and issue notes quote
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./client/ ./ratelimit/ ./classify/ ./internal/fakestore/

## fuzz: a short run of every fuzz target (FUZZTIME=10s by default)
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## demo: the bulk classify job against the built-in fake, at compressed time
demo:
	$(GO) run ./cmd/kentik demo

## check-generated: fail when `make generate` changes or adds anything under gen/
check-generated: generate
	@status=$$(git status --porcelain -- gen); \
	if [ -n "$$status" ]; then echo "gen/ is out of date with proto/ (run make generate and commit):"; echo "$$status"; exit 1; fi; \
	echo "gen/ is up to date"

## breaking: buf breaking against the previous commit (or BREAKING_BASE, e.g. a pull request's base), when history has one with a schema
BREAKING_BASE ?= HEAD~1
breaking:
	@if git rev-parse -q --verify '$(BREAKING_BASE)' >/dev/null && git cat-file -e '$(BREAKING_BASE):buf.yaml' 2>/dev/null; then \
	  $(BUF) breaking --against '.git#ref=$(BREAKING_BASE)' && echo "buf breaking: no breaking change against $(BREAKING_BASE)"; \
	else \
	  echo "buf breaking: skipped, no previous commit with a buf.yaml to compare against (shallow clone or first commit)"; \
	fi

## ci: what CI runs
ci: lint check-generated breaking test
