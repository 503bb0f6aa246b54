#!/usr/bin/env bash
# Runs the services as separate processes, as deployed (`make up` runs them
# in one process with `jilin up --demo` instead): a JetStream nats-server with its store under
# ./data/nats (unless NATS_URL already answers), then the registry, the
# indicator service and the risk service. Ctrl-C stops everything; data stays in ./data.
set -euo pipefail

DATA_DIR="${DATA_DIR:-./data}"
NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
NATS_HOSTPORT="${NATS_URL#nats://}"
NATS_HOST="${NATS_HOSTPORT%:*}"
NATS_PORT="${NATS_HOSTPORT##*:}"
mkdir -p "$DATA_DIR"

nats_pid=""
service_pids=()
cleanup() {
    for pid in "${service_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${service_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n "$nats_pid" ]]; then kill "$nats_pid" 2>/dev/null || true; wait "$nats_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM

if (exec 3<>"/dev/tcp/$NATS_HOST/$NATS_PORT") 2>/dev/null; then
    echo "using the NATS server already at $NATS_URL"
else
    nats_bin=$(deploy/scripts/ensure-nats-server.sh)
    echo "starting $nats_bin with JetStream on $NATS_URL (store: $DATA_DIR/nats)"
    "$nats_bin" -js -a "$NATS_HOST" -p "$NATS_PORT" -sd "$DATA_DIR/nats" >"$DATA_DIR/nats.log" 2>&1 &
    nats_pid=$!
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/$NATS_HOST/$NATS_PORT") 2>/dev/null && break
        sleep 0.1
    done
fi

# Keys, a CA with a certificate for this host, and tokens, made once.
secrets="$DATA_DIR/secrets"
./target/release/jilin secrets --dir "$secrets" --host localhost --host 127.0.0.1 >/dev/null
export NATS_URL JILIN_JWKS="$secrets/auth/jwks.json" JILIN_TLS_CA="$secrets/tls/ca.pem"
export JILIN_TLS_CERT="$secrets/tls/service.pem" JILIN_TLS_KEY="$secrets/tls/service.key"

REGISTRY_DATA_DIR="$DATA_DIR/registry" JILIN_METRICS_LISTEN=127.0.0.1:9101 ./target/release/jilin-registry &
service_pids+=($!)
INDICATORS_DATA_DIR="$DATA_DIR/indicators" JILIN_METRICS_LISTEN=127.0.0.1:9102 \
    JILIN_PEER_TOKEN_FILE="$secrets/auth/tokens/service-indicators.jwt" ./target/release/jilin-indicators &
service_pids+=($!)
RISK_DATA_DIR="$DATA_DIR/risk" JILIN_METRICS_LISTEN=127.0.0.1:9103 \
    JILIN_PEER_TOKEN_FILE="$secrets/auth/tokens/service-risk.jwt" ./target/release/jilin-risk &
service_pids+=($!)

echo
echo "registry:   https://127.0.0.1:50051   (try: grpcurl -cacert $secrets/tls/ca.pem 127.0.0.1:50051 list)"
echo "indicators: https://127.0.0.1:50052"
echo "risk:       https://127.0.0.1:50053"
echo "metrics:    http://127.0.0.1:9101/metrics, :9102, :9103"
echo "clients:    JILIN_CA=$secrets/tls/ca.pem JILIN_TOKEN_FILE=$secrets/auth/tokens/admin.jwt jilin projects list"
echo "events:     nats sub 'jilin.>' --server $NATS_URL   (red alerts only: nats sub 'jilin.risk.alert.firing.critical')"
echo
# Whichever service stops first (or Ctrl-C) stops the rest.
wait -n "${service_pids[@]}"
