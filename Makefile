# Portcullis: the two commands a fresh machine needs are `make run` and `make test`.
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test browser unit-test api-test fuzz soak fmt-check clippy check migrate bench profile clean help

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## serve the whole API on 127.0.0.1:8080 (SQLite and mail files under data/)
	mkdir -p data
	$(CARGO) run -p portcullis-server --bin portcullis -- serve

test: unit-test api-test ## every test: unit, store contract, end-to-end over HTTP, then schemathesis on the server

# Headless Chromium (Debian's package) for the passkey demo page's browser test; that test
# skips loudly without it, and fails under REQUIRE_BROWSER=1 (as .ci/run sets).
browser:
	@command -v chromium >/dev/null || $(CHROMIUM_INSTALL) || echo "make: could not install chromium; the browser test will skip"
CHROMIUM_INSTALL = { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }

unit-test: browser ## the Rust tests of every crate (unit, store contract, end-to-end over HTTP and in headless Chromium)
	$(CARGO) test --workspace --all-features --no-fail-fast
	cd crates/passkey-interop && CARGO_TARGET_DIR=$(CURDIR)/target $(CARGO) test --locked --no-fail-fast

# schemathesis and its dependencies, pinned, in a virtual environment of our own.
VENV := target/venv
$(VENV)/.installed: tests/schemathesis/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --requirement tests/schemathesis/requirements.txt
	touch $@

# The server binary is the one `unit-test` already built for the end-to-end tests (same
# profile and features, so this `--no-run` compiles nothing after it): a release build of its
# own took a quarter of CI's time, and the run itself takes seconds either way.
api-test: $(VENV)/.installed ## schemathesis against the served OpenAPI document of the server (API_TEST_EXAMPLES per operation)
	$(CARGO) test --workspace --all-features --no-run
	$(VENV)/bin/python tests/schemathesis/run.py target/debug/portcullis $(VENV)/bin/schemathesis

# Fuzzing (cargo-fuzz, libFuzzer) of every parser of outside input: FUZZ_SECS per target.
# The fuzz crate needs nightly -Z flags: RUSTC_BOOTSTRAP=1 lets the pinned stable compiler
# take them. New crashes land in crates/fuzz/artifacts/<target>/; copy each into
# crates/fuzz-targets/regressions/<target>/ once fixed, and `make test` replays it.
FUZZ_SECS ?= 60
FUZZ_FLAGS ?= -O
FUZZ_TARGETS := request_bodies value_objects bearer_tokens forwarded_for query_strings passkey_responses
fuzz: ## run each fuzz target for FUZZ_SECS seconds (cargo-fuzz installed if missing)
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --version 0.13.2 --locked
	$(CARGO) run --quiet -p portcullis-fuzz-targets --bin portcullis-fuzz-seeds -- target/fuzz-corpus
	cd crates/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build --fuzz-dir . $(FUZZ_FLAGS)
	mkdir -p target/fuzz-logs
	set -e; for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t ($(FUZZ_SECS) s)"; \
	  (cd crates/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . $(FUZZ_FLAGS) $$t ../../target/fuzz-corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECS) -max_len=4096 -print_final_stats=1) > target/fuzz-logs/$$t.log 2>&1 \
	    || { tail -40 target/fuzz-logs/$$t.log; echo "fuzz: $$t failed; the input is in crates/fuzz/artifacts/$$t/"; exit 1; }; \
	  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' target/fuzz-logs/$$t.log; \
	done

fmt-check: ## formatting as CI checks it
	$(CARGO) fmt --all --check

clippy: ## lints as CI checks them
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

check: fmt-check clippy test ## what CI runs

migrate: ## apply pending migrations to the configured database
	$(CARGO) run -p portcullis-server --bin portcullis -- migrate

bench: ## criterion micro-benchmarks and wrk load on the release binary (wrk installed if missing); rewrites BENCHMARKS.md
	command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	$(CARGO) build --release -p portcullis-bench -p portcullis-server
	$(CARGO) bench -p portcullis-bench --bench micro -- --warm-up-time 1 --measurement-time 3
	./target/release/portcullis-bench > target/bench-section.md
	./target/release/portcullis-bench breach-filter >> target/bench-section.md
	{ printf '# Benchmarks\n\nWritten by `make bench` on %s. Figures from one run are comparable with each\nother; the machine is shared, so compare ratios, not absolute numbers across runs.\n\n' "$$(date -u +%F)"; \
	  cat target/bench-section.md; } > BENCHMARKS.md
	cat BENCHMARKS.md

profile: ## perf profile of the server per store and request kind (perf and wrk installed if missing); writes target/profile/PROFILE.md
	command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	command -v perf >/dev/null || apt-get install -y linux-perf || (apt-get update && apt-get install -y linux-perf)
	$(CARGO) build --profile profiling -p portcullis-bench -p portcullis-server
	mkdir -p target/profile
	./target/profiling/portcullis-bench profile > target/profile/PROFILE.md
	cat target/profile/PROFILE.md

soak: ## SOAK_SECS (180) of mixed traffic per store on the release server, then the audit log, alerts, mail and memory are checked
	$(CARGO) build --release -p portcullis-bench -p portcullis-server
	./target/release/portcullis-bench soak

clean: ## remove build output and local data
	rm -rf target data
