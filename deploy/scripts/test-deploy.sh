#!/usr/bin/env bash
# `make test-deploy`: the compose deployment, tested as an operator would.
# Builds the images, makes the secrets, brings the stack up on its own
# ports and project name, waits for every healthcheck, then drives a
# scenario through the published ports with `jilin`: a reporter creates a
# project, reports, suspends it, and the `suspended` alert fires. Then one
# NATS container and the registry container are killed (docker kill) and
# started again: the project, its report and the alert are all still
# there, the services report SERVING, a new report is acknowledged, and
# each /metrics shows the requests and the outbox publishing. Tears
# everything down, volumes included, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$(date +%s)
export COMPOSE_PROJECT_NAME="jilin-deploy-test-$$"
work="$(mktemp -d)"
export JILIN_SECRETS="$work/secrets"
export REGISTRY_PORT=50161 INDICATORS_PORT=50162 RISK_PORT=50163 NATS_PORT=4262
export REGISTRY_METRICS_PORT=9161 INDICATORS_METRICS_PORT=9162 RISK_METRICS_PORT=9163
export RISK_EVALUATION_INTERVAL=2

if docker compose version >/dev/null 2>&1; then
  compose() { docker compose -f deploy/compose.yaml "$@"; }
else
  compose() { docker-compose -f deploy/compose.yaml "$@"; }
fi
failure=""
cleanup() {
  status=$?
  if [[ $status -ne 0 ]]; then
    compose logs --tail 40 >&2 || true
    # Again after the logs, so that the last lines of a run say what failed.
    echo "[test-deploy] FAILED: ${failure:-exit status $status}" >&2
  fi
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT

say() { printf '[test-deploy %3ds] %s\n' "$(( $(date +%s) - started ))" "$*"; }
fail() { failure="$*"; say "FAILED: $*"; exit 1; }

say "building the images"
images_started=$(date +%s)
deploy/scripts/make-images.sh
say "images built in $(( $(date +%s) - images_started )) s"

jilin=target/release/jilin
"$jilin" secrets --dir "$JILIN_SECRETS" \
  --host registry --host indicators --host risk \
  --host nats-1 --host nats-2 --host nats-3 --host localhost --host 127.0.0.1 >/dev/null
# The containers run as 65532; in production the orchestrator's secrets
# are mounted with that owner.
if [[ $(id -u) -eq 0 ]]; then chown -R 65532:65532 "$JILIN_SECRETS"; else chmod -R a+rX "$JILIN_SECRETS"; fi

wait_healthy() {
  local deadline=$(( $(date +%s) + 180 ))
  for service in registry indicators risk; do
    while true; do
      local id health
      id="$(compose ps -q "$service")"
      health="$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null || true)"
      [[ "$health" == healthy ]] && break
      (( $(date +%s) < deadline )) || fail "$service is $health"
      sleep 1
    done
  done
}

say "starting the stack"
compose up -d
wait_healthy
say "all three services healthy"

tokens="$JILIN_SECRETS/auth/tokens"
cli() {
  "$jilin" --ca "$JILIN_SECRETS/tls/ca.pem" \
    --registry "https://127.0.0.1:$REGISTRY_PORT" \
    --indicators "https://127.0.0.1:$INDICATORS_PORT" \
    --risk "https://127.0.0.1:$RISK_PORT" "$@"
}
reporter=(--token-file "$tokens/reporter-2201-drc.jwt")
admin=(--token-file "$tokens/admin.jwt")
last_month="$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m)"

cli "${reporter[@]}" projects create --id deploy-check --display-name "FAW paint shop" \
  --sector automobile --region 220100 --agency 2201-drc \
  --planned-investment 1000000000 --start 2025-03-01 --end 2027-06-30 >/dev/null
for status in APPROVED UNDER_CONSTRUCTION; do
  cli "${reporter[@]}" projects transition projects/deploy-check --to "$status" --reason "deploy test" >/dev/null
done
cli "${reporter[@]}" reports submit projects/deploy-check --period "$last_month" \
  --investment 1000000 --output-value 5000000 --value-added 1000000 --employment 120 --progress 30 >/dev/null
cli "${reporter[@]}" projects transition projects/deploy-check --to SUSPENDED --reason "funding review" >/dev/null
say "project created, reported and suspended"

wait_alert() {
  local deadline=$(( $(date +%s) + 60 ))
  until cli "${admin[@]}" -o json alerts list --filter 'state = FIRING' | grep -q 'suspended:projects:deploy-check'; do
    (( $(date +%s) < deadline )) || fail "the suspended alert never fired"
    sleep 1
  done
}
wait_alert
say "the suspended alert fires"

say "killing nats-2 and the registry"
docker kill "$(compose ps -q nats-2)" "$(compose ps -q registry)" >/dev/null
compose start nats-2 registry >/dev/null
wait_healthy
say "restarted and healthy again"

cli "${admin[@]}" -o json projects get projects/deploy-check | grep -q '"status":"SUSPENDED"' \
  || fail "the project is not as acknowledged"
cli "${admin[@]}" -o json reports list projects/deploy-check | grep -q "\"period\":\"$last_month\"" \
  || fail "the acknowledged report is lost"
wait_alert
for port in "$REGISTRY_PORT" "$INDICATORS_PORT" "$RISK_PORT"; do
  [[ "$(cli health "https://127.0.0.1:$port")" == SERVING ]] || fail "port $port is not SERVING"
done
cli "${reporter[@]}" projects transition projects/deploy-check --to UNDER_CONSTRUCTION --reason "funded" >/dev/null \
  || fail "a write after the restart was refused"
say "nothing lost; writes go on"

metric() { curl -fsS "http://127.0.0.1:$1/metrics" | awk -v name="$2" '$1 ~ "^"name { sum += $2 } END { print sum + 0 }'; }
# The restarted registry counts from zero, and its first publish waits for
# the restarted NATS node's stream to settle: each metric gets a minute.
metric_moves() {
  local deadline=$(( $(date +%s) + 60 ))
  until (( $(metric "$1" "$2") > 0 )); do
    (( $(date +%s) < deadline )) || fail "$3"
    sleep 1
  done
}
metric_moves "$REGISTRY_METRICS_PORT" jilin_grpc_requests_total "registry requests not counted"
metric_moves "$REGISTRY_METRICS_PORT" jilin_relay_publish_duration_seconds_count "registry outbox not publishing"
metric_moves "$RISK_METRICS_PORT" jilin_grpc_requests_total "risk requests not counted"
metric_moves "$INDICATORS_METRICS_PORT" jilin_consumer_last_applied_sequence "indicators consumed nothing"
say "metrics moved"
say "passed in $(( $(date +%s) - started )) s"
