# replsm: `make demo` runs the main job, `make test` the whole suite.
# Both install what they need on a fresh Debian machine with Go.

GO       ?= go
APT_PKGS := redis-server redis-tools redis-sentinel graphviz nodejs npm prometheus chromium
BENCH    ?= .
COUNT    ?= 6
FUZZTIME ?= 25s

.PHONY: all deps deps-apt deps-npm test test-busy fuzz explore demo bench bench-instr bench-observe bench-recovery bench-cobloop bench-fullsync statecharts bench-interop vet

all: test

# deps-apt installs the Debian packages the tests run for real: redis-server,
# redis-sentinel and redis-benchmark for the interop tests, graphviz for the diagrams, node
# and npm for Mermaid's own parser, promtool (prometheus) to lint a live
# /metrics scrape, chromium for the status page's browser test. Nothing is installed when all are there.
deps-apt:
	@missing=""; \
	for c in redis-server:redis-server redis-cli:redis-tools redis-benchmark:redis-tools redis-check-rdb:redis-server redis-sentinel:redis-sentinel dot:graphviz node:nodejs npm:npm promtool:prometheus chromium:chromium; do \
		cmd=$${c%%:*}; pkg=$${c##*:}; \
		command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# deps-npm installs the pinned Mermaid parser from its lock file.
deps-npm: deps-apt
	@if [ -f tools/diagramcheck/package-lock.json ] && [ ! -d tools/diagramcheck/node_modules ]; then \
		npm ci --prefix tools/diagramcheck --no-audit --no-fund --loglevel=error; \
	fi

deps: deps-apt deps-npm

vet:
	$(GO) vet ./...

# test: the whole module with the race detector on.
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 45m ./...

# test-busy: the whole suite while two CPU burners compete with it, as on a
# shared 2-core machine. The trap stops the burners whatever the outcome
# (pass, fail or interrupt); the target fails when the suite fails.
test-busy: deps
	@sh -c 'sh -c "while :; do :; done" & b1=$$!; \
		sh -c "while :; do :; done" & b2=$$!; \
		trap "kill $$b1 $$b2 2>/dev/null" EXIT INT TERM; \
		echo "test-busy: burners $$b1 $$b2"; start=$$(date +%s); \
		$(MAKE) --no-print-directory test; rc=$$?; \
		echo "test-busy: make test exit $$rc after $$(( $$(date +%s) - start ))s"; exit $$rc'

# fuzz: every fuzz target in the module, one at a time, FUZZTIME each
# (targets are found by grep, so new ones are picked up). A crasher is
# written under the package's testdata/fuzz/FuzzX/; keep it as a seed.
fuzz:
	@set -e; grep -rl --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*(' . | sort | while read -r f; do \
		pkg=./$$(dirname $${f#./}); \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz: $$pkg $$fn for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# explore: SEEDS seeded random histories over the instance, its slots,
# followers and snapshots on the mock clock, every step checked against the
# invariants (replsmtest); each failure prints its seed and its minimized
# history as a scenario script. Ends with one line:
#   explore: N seeds, F failures, R seeds/min (failing seeds: ...)
SEEDS ?= 10000
explore:
	@mkdir -p bin && $(GO) build -o bin/replsm-explore ./cmd/replsm-explore
	@bin/replsm-explore -seeds $(SEEDS)

# demo: the main job (see README).
demo: deps
	$(GO) run ./cmd/replsm demo

# bench: the core benchmarks, run side by side and compared by name with
# benchstat (ratios are what count on a small, noisy machine):
#   SlotTransition vs LooplabEvent          target <= 1.5x time
#   parallel scaling: SlotTransition/SlotTransitionParallel must be
#     >= 0.9x LooplabEvent/LooplabEventParallel in the same run (-cpu 2)
#   SchedulerMock100k vs NaiveMockTimers1k   target >= 100x cheaper per timer
#   SlotMemory16k                            target <= 4096 B/slot
BENCHSTAT := $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) -cpu 2 ./slot/ ./timeouts/ > bench.out
	$(BENCHSTAT) -filter '.name:(LooplabEvent OR SlotTransition)' -col .name bench.out
	$(BENCHSTAT) -filter '.name:(SlotTransition OR SlotTransitionParallel)' -col .name bench.out
	$(BENCHSTAT) -filter '.name:(LooplabEvent OR LooplabEventParallel)' -col .name bench.out
	$(BENCHSTAT) -filter '.name:(NaiveMockTimers1k OR SchedulerMock100k)' -col .name bench.out
	$(BENCHSTAT) -filter '.name:SlotMemory16k' bench.out

# bench-instr: SlotTransition vs LooplabEvent in instructions per op,
# counted by callgrind (repeatable whatever else the machine is doing): the
# difference between a short and a long run, divided by the extra ops.
# (Go's async preemption signals can crash valgrind and the GC adds noise;
# both are turned off.)
bench-instr:
	@command -v valgrind >/dev/null || { SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; $$SUDO apt-get install -y -qq valgrind >/dev/null; }
	@mkdir -p bin && $(GO) test -c -o bin/slot.test ./slot/
	@for b in LooplabEvent SlotTransition; do \
		for n in 20000 120000; do \
			GOGC=off GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null bin/slot.test -test.run '^$$' -test.bench "^Benchmark$$b\$$" -test.benchtime $${n}x -test.cpu 1 2>&1 >/dev/null \
				| sed -n "s/.*Collected : \([0-9]*\).*/$$b $$n \1/p"; \
		done; \
	done | awk '{ir[$$1,$$2]=$$3} END { \
		l=(ir["LooplabEvent",120000]-ir["LooplabEvent",20000])/100000; \
		s=(ir["SlotTransition",120000]-ir["SlotTransition",20000])/100000; \
		printf "LooplabEvent   %.0f instructions/op\nSlotTransition %.0f instructions/op\nratio          %.2fx (target <= 1.5x)\n", l, s, s/l }'

# bench-observe: the cost of the metrics observer on a slot transition, in
# instructions per op counted by callgrind (GC off so that collection cycles
# do not blur 200 000 ops): BenchmarkSlotTransition in ./observe/ with no
# observer, with the metrics observer (target <= 1.1x) and with gauge
# vectors updated on every transition (the design not taken). Then one
# scrape of 16 384 slots (target < 100 ms; wall time, so run it on a quiet
# machine).
bench-observe:
	@command -v valgrind >/dev/null || { SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; $$SUDO apt-get install -y -qq valgrind >/dev/null; }
	@mkdir -p bin && $(GO) test -c -o bin/observe.test ./observe/
	@for b in none metrics gaugevec; do \
		for n in 20000 220000; do \
			GOGC=off GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null bin/observe.test -test.run '^$$' -test.bench "^BenchmarkSlotTransition\$$/^observer=$$b\$$" -test.benchtime $${n}x -test.cpu 1 2>&1 >/dev/null \
				| sed -n "s/.*Collected : \([0-9]*\).*/$$b $$n \1/p"; \
		done; \
	done | awk '{ir[$$1,$$2]=$$3} END { \
		n=(ir["none",220000]-ir["none",20000])/200000; \
		m=(ir["metrics",220000]-ir["metrics",20000])/200000; \
		g=(ir["gaugevec",220000]-ir["gaugevec",20000])/200000; \
		printf "SlotTransition, no observer      %.0f instructions/op\nSlotTransition, metrics observer %.0f instructions/op  %.3fx (target <= 1.1x)\nSlotTransition, gauge vectors    %.0f instructions/op  %.3fx (not taken)\n", n, m, m/n, g, g/n }'
	$(GO) test -run '^$$' -bench 'Scrape16k$$' -benchtime 10x ./observe/

# bench-interop: under the same redis-benchmark SET load on a real primary,
# our replica and a real redis-server replica side by side: applied ops/s
# and lag percentiles (see internal/benchinterop).
bench-interop: deps
	$(GO) run ./internal/benchinterop

# bench-recovery: a real primary killed for 90 s, then restarted with 30 s
# of -LOADING; `replsm replica` (the CLI, default config) beside a stock
# redis-server replica: sync handshakes while the primary was away and
# seconds back after it is ready (see internal/benchrecovery; ~3.5 min).
bench-recovery: deps
	$(GO) run ./internal/benchrecovery

# bench-cobloop: the full-sync loop scenario (sorted sets that take seconds
# to load, client-output-buffer-limit replica 24mb 16mb 2, 1500 SET/s of
# 4 KiB for 60 s): full syncs and peak output buffer of a stock replica and
# of replsm's, side by side (see internal/benchcobloop; ~6 min).
bench-cobloop: deps
	$(GO) run ./internal/benchcobloop

# bench-fullsync: a real primary with KEYS (1M) keys; a stock redis-server
# replica and `replsm replica` side by side: full-sync time, RSS after the
# sync, catch-up of a 600k-SET backlog, as ratios (see internal/benchfullsync
# and docs/fullsync.md). PROFILE=dir keeps replsm's profiles and the RDB.
KEYS ?= 1000000
bench-fullsync: deps-apt
	$(GO) run ./internal/benchfullsync -keys $(KEYS) $(if $(PROFILE),-profile $(PROFILE))

statecharts: deps
	$(GO) run ./internal/charts/gen
