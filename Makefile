# The two commands a fresh machine needs.
#   make up    build and run the whole system with the demo portfolio (jilin up --demo), data in ./data
#   make test  format check, clippy, and every test against a real nats-server
#              (and a real Alertmanager: both are installed if missing)
#   make test-dates  every test again with the clock moved (libfaketime) to dates
#                    that catch calendar-bound code: New Year's Eve, New Year, a leap day
#   make images      the container images (jilin:local, jilin-nats:local) from host binaries
#   make deploy-up   the compose deployment (deploy/compose.yaml): NATS cluster + services
#   make test-deploy the compose deployment tested end to end, and the Kubernetes
#                    manifests validated (CI runs it after make test)

SHELL := /bin/bash
.PHONY: up test test-dates nats-server build images deploy-up deploy-down test-deploy validate-k8s fuzz test-faults

nats-server:
	@deploy/scripts/ensure-nats-server.sh >/dev/null

build:
	cargo build --release --workspace

# The nats-server found (or installed) is handed to `jilin up`, which starts
# it unless NATS_URL already answers. Extra flags: make up UP_ARGS="--demo-projects 100".
up: nats-server build
	NATS_SERVER_BIN="$$(deploy/scripts/ensure-nats-server.sh)" ./target/release/jilin up --demo $(UP_ARGS)

test: nats-server
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	@mkdir -p target
	set -o pipefail; NATS_SERVER_BIN="$$(deploy/scripts/ensure-nats-server.sh)" \
	  ALERTMANAGER_BIN="$$(deploy/scripts/ensure-alertmanager.sh)" \
	  cargo test --workspace 2>&1 | tee target/test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "tests: %d passed, %d failed\n", p, f }' target/test.log

# The fault suite (tests/faults.rs): the service binaries and nats-server
# as processes, SIGKILLed on a seeded schedule under load, NATS away for
# FAULT_NATS_AWAY seconds, then checked from outside. FAULT_SEED replays a
# schedule; FAULT_SECONDS sets its length.
test-faults: nats-server
	@deploy/scripts/ensure-faketime.sh >/dev/null
	cargo build --bins
	NATS_SERVER_BIN="$$(deploy/scripts/ensure-nats-server.sh)" \
	  cargo test -p jilin --test faults -- --ignored --nocapture

# The instants the suite must pass at, whatever today's date is: each test
# binary runs under libfaketime (built first without it: cargo and rustc can
# hang under it).
FAKE_DATES := 2026-12-31T23:59:50 2027-01-01T00:00:10 2028-02-29T12:00:00

test-dates: nats-server
	deploy/scripts/test-at-dates.sh $(FAKE_DATES)

images: nats-server
	deploy/scripts/make-images.sh

# The deployment's secrets are made once in deploy/secrets (kept out of git).
DEPLOY_HOSTS := --host registry --host indicators --host risk --host nats-1 --host nats-2 --host nats-3 --host localhost --host 127.0.0.1

deploy-up: images
	./target/release/jilin secrets --dir deploy/secrets $(DEPLOY_HOSTS)
	if [ "$$(id -u)" = 0 ]; then chown -R 65532:65532 deploy/secrets; else chmod -R a+rX deploy/secrets; fi
	docker-compose -f deploy/compose.yaml up -d

deploy-down:
	docker-compose -f deploy/compose.yaml down

test-deploy: nats-server validate-k8s
	deploy/scripts/test-deploy.sh

validate-k8s:
	deploy/scripts/validate-k8s.sh

# Every fuzz target for FUZZ_SECONDS each (60 by default; nightly and
# cargo-fuzz are installed if missing). Not part of `make test`.
fuzz:
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) fuzz/run.sh
