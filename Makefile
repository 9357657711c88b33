# agentdesk — run `make help` for the targets.
GO        ?= go
PKGS      ?= ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build ## start the server on the embedded stores (DATA_DIR=./data, HTTP_ADDR=127.0.0.1:8080)
	exec ./bin/agentdesk serve

.PHONY: build
build: ## build bin/agentdesk
	$(GO) build -o bin/agentdesk ./cmd/agentdesk

.PHONY: test
test: ## vet and run every test with the race detector
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

.PHONY: bench
bench: ## run the benchmarks: append, list query, catch-up (about 5 minutes; see README)
	$(GO) test -run '^$$' -bench Append -benchtime 20000x -count 3 ./commands/
	$(GO) test -run '^$$' -bench ListQuery -benchtime 5000x ./cmd/agentdesk/
	$(GO) test -run '^$$' -bench CatchUp -benchtime 1x -timeout 30m ./projections/

.PHONY: bench-stores
bench-stores: ## run the event store and read store micro-benchmarks
	$(GO) test -run '^$$' -bench . ./eventstore/ ./readstore/

FUZZTIME ?= 20s

# go test -fuzz takes one target per run: every Fuzz function of every
# package that has one, one after the other.
.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 20s), one after the other
	@set -e; for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: lint
lint: ## gofmt check, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo 'run make fmt'; exit 1)
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

.PHONY: fmt
fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')
