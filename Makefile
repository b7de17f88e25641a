# Portcullis: the two commands a fresh machine needs are `make run` and `make test`.
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: run test fmt-check clippy check migrate bench profile clean help

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## serve the whole API on 127.0.0.1:8080 (SQLite and mail files under data/)
	mkdir -p data
	$(CARGO) run -p portcullis-server --bin portcullis -- serve

test: ## every test of every crate (unit, store contract, end-to-end over HTTP)
	$(CARGO) test --workspace --all-features --no-fail-fast

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

clean: ## remove build output and local data
	rm -rf target data
