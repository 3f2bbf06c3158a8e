# Everything a fresh machine with only Go needs: the tools are pinned Go tools
# (buf in tools/go.mod, the protoc plugins in go.mod) and built on first use.
GO      ?= go
BUF     := $(GO) tool -modfile=tools/go.mod buf
GOFILES  = $(shell git ls-files --cached --others --exclude-standard '*.go' | grep -v '^gen/')

.PHONY: all generate sync-schema services-table lint test redis-server bench fuzz demo ci check-generated breaking

all: lint test

## generate: regenerate gen/ from proto/ with buf and the pinned plugins
generate:
	$(BUF) generate

## sync-schema: write proto/kentik/ from Kentik's published schema (SCHEMA=FILE, a buf image, binary or JSON); then make generate
SCHEMA ?= ../shared/kentik-api-v6/descriptor.json
sync-schema:
	$(GO) run ./internal/schema/syncschema '$(SCHEMA)'

## services-table: rewrite docs/services.md, the table of every service, from the compiled schema
services-table:
	$(GO) test ./services/ -run TestServicesTable -update

## lint: buf lint, buf format, gofmt and go vet
lint:
	$(BUF) lint
	$(BUF) format --diff --exit-code
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## test: every test, with the race detector (redis-server installed first when missing, see below)
test: redis-server
	$(GO) test -race -count=1 ./...

## redis-server: the shared-limiter tests run a real redis-server; install it with apt-get
## when it is missing and this is root on Debian (CI), else say that those tests will skip
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server for the shared-limiter tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server) >/dev/null; \
	  else echo "redis-server not found: the shared-limiter tests will skip (install redis-server to run them)"; fi; }

## bench: the benchmarks whose figures the README and issue notes quote
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./client/ ./ratelimit/ ./ratelimit/redislimit/ ./classify/ ./kentiktest/internal/store/

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
	@echo "make demo: building the kentik command into bin/ (the first build takes about a minute or two on 2 cores; then seconds)..."
	$(GO) build -o bin/kentik ./cmd/kentik
	bin/kentik demo

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
