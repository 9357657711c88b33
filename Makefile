# agentdesk — run `make help` for the targets.
GO        ?= go
PKGS      ?= ./...
# The embedded read store's text search needs SQLite's FTS5, which the
# driver compiles in only with this tag: every go command here gets it.
export GOFLAGS += -tags=sqlite_fts5

.DEFAULT_GOAL := help

.PHONY: help
help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build admin ## build the server and the admin app, and start the server on the embedded stores (DATA_DIR=./data, HTTP_ADDR=127.0.0.1:8080, the admin app at /admin/)
	exec ./bin/agentdesk serve

.PHONY: build
build: ## build bin/agentdesk
	$(GO) build -o bin/agentdesk ./cmd/agentdesk

# The admin app (admin/): its npm packages from the lockfile, then its
# build into admin/dist, each redone only when what it comes from changed.
ADMIN_SRC := $(shell find admin/src admin/index.html admin/vite.config.js -type f 2>/dev/null)

admin/node_modules/.package-lock.json: admin/package-lock.json admin/package.json
	cd admin && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

admin/dist/index.html: admin/node_modules/.package-lock.json $(ADMIN_SRC)
	cd admin && npm run --silent build

.PHONY: admin
admin: admin/dist/index.html ## build the admin app into admin/dist (npm ci from the lockfile, then vite build)

# The admin app's browser tests drive Debian's Chromium, never a
# downloaded browser.
CHROMIUM ?= /usr/bin/chromium

.PHONY: browser
browser: ## install Debian's chromium and chromium-driver for the browser tests (as root, or through sudo)
	@if [ ! -x $(CHROMIUM) ]; then \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	fi

.PHONY: test-admin
test-admin: build browser admin ## drive the admin app in headless Chromium against the real server (playwright-core)
	cd admin && AGENTDESK_BIN=$(CURDIR)/bin/agentdesk CHROMIUM_BIN=$(CHROMIUM) node --test --test-concurrency=1 e2e/

.PHONY: test
test: ## vet and run every Go test with the race detector, then the admin app's browser tests
	@# The browser and the npm packages download while the Go tests run.
	@log=$$(mktemp); ( $(MAKE) --no-print-directory browser admin/node_modules/.package-lock.json >$$log 2>&1; echo $$? >$$log.rc ) & \
	prep=$$!; \
	$(GO) vet $(PKGS) && $(GO) test -race -count=1 -timeout 15m $(PKGS); rc=$$?; \
	wait $$prep; cat $$log; prc=$$(cat $$log.rc); rm -f $$log $$log.rc; \
	[ $$rc = 0 ] || exit $$rc; [ $$prc = 0 ] || { echo "installing the browser or the admin app's packages failed"; exit $$prc; }; \
	$(MAKE) --no-print-directory test-admin

# The benchmarks' 1,000,000 tickets, filled once and kept here.
BENCH_DIR ?= $(CURDIR)/.bench-data

.PHONY: bench
bench: ## run the benchmarks: append, list query, audit log, HTTP paths and creates, fairness, catch-up, rebuild, live writes, reactions, as-of, retrieval, chat (about 30 minutes the first time; see README)
	$(GO) test -run '^$$' -bench Append -benchtime 20000x -count 3 ./commands/
	AGENTDESK_BENCH_DIR=$(BENCH_DIR) $(GO) test -run '^$$' -bench ListQuery -benchtime 5000x -timeout 60m ./cmd/agentdesk/
	AGENTDESK_BENCH_DIR=$(BENCH_DIR) $(GO) test -run '^$$' -bench AuditLogList -benchtime 5000x -timeout 60m ./cmd/agentdesk/
	AGENTDESK_BENCH_DIR=$(BENCH_DIR) $(GO) test -run '^$$' -bench 'HTTPPaths|HTTPCreates|TenantFairness' -benchtime 1x -timeout 60m ./cmd/agentdesk/
	$(GO) test -run '^$$' -bench CatchUp -benchtime 1x -timeout 30m ./projections/
	$(GO) test -run '^$$' -bench Rebuild -benchtime 1x -timeout 30m ./projections/
	$(GO) test -run '^$$' -bench ApplyLive ./readstore/
	$(GO) test -run '^$$' -bench Reactions -benchtime 1x ./reactions/
	$(GO) test -run '^$$' -bench AsOf -benchtime 200x ./projections/
	$(GO) test -run '^$$' -bench Retrieve -benchtime 2000x ./readapi/
	$(GO) test -run '^$$' -bench HTTPChat -benchtime 1x ./cmd/agentdesk/

.PHONY: bench-stores
bench-stores: ## run the event store and read store micro-benchmarks
	$(GO) test -run '^$$' -bench . ./eventstore/ ./readstore/

LOAD_DURATION    ?= 20s
LOAD_CONCURRENCY ?= 64
LOAD_SCENARIO    ?= mixed
SOAK_DURATION    ?= 10m
SOAK_CONCURRENCY ?= 16

.PHONY: build-load
build-load: build ## build bin/agentdesk and the load generator bin/agentdesk-load
	$(GO) build -o bin/agentdesk-load ./cmd/agentdesk-load

.PHONY: load
load: build-load ## load test on loopback: LOAD_SCENARIO (mixed|creates|list|get) at LOAD_CONCURRENCY for LOAD_DURATION, then a bare handler as the ceiling
	./bin/agentdesk-load -scenario $(LOAD_SCENARIO) -c $(LOAD_CONCURRENCY) -d $(LOAD_DURATION)

.PHONY: soak
soak: build-load ## soak test: the mixed workload for SOAK_DURATION at SOAK_CONCURRENCY; fails on any error or growing RSS or fds
	./bin/agentdesk-load -scenario mixed -c $(SOAK_CONCURRENCY) -d $(SOAK_DURATION) -soak -ceiling=false

FUZZTIME ?= 20s
# Minimizing each new interesting input may take a minute by default,
# during which a short run stalls; the corpus keeps the larger input.
FUZZMINIMIZETIME ?= 2s

# go test -fuzz takes one target per run: every Fuzz function of every
# package that has one, one after the other. A run that fails with a bare
# "context deadline exceeded" and no failing input is Go's fuzzing
# coordinator racing its own deadline on a busy machine (golang/go#75804,
# fixed in Go 1.27), not a finding: it is reported and the next target runs.
.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 20s), one after the other
	@set -e; log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target"; \
			if $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg >$$log 2>&1; then \
				cat $$log; \
			else \
				cat $$log; \
				if grep -q 'context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then \
					echo "== $$target: ended on Go's fuzzing deadline race (golang/go#75804), no failing input"; \
				else \
					exit 1; \
				fi; \
			fi; \
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
