#!/usr/bin/env bash
# Makes sure Prometheus Alertmanager is available and prints its path: the
# delivery tests hand alerts to a real one. Installs Debian's package when
# running as root on a Debian/Ubuntu machine; otherwise explains how to
# install it. The package's own service is not left running.
set -euo pipefail

for name in prometheus-alertmanager alertmanager; do
    if found=$(command -v "$name"); then
        echo "$found"
        exit 0
    fi
done

if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    echo "alertmanager not found: installing Debian's prometheus-alertmanager package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq prometheus-alertmanager >&2
    if command -v systemctl >/dev/null 2>&1; then
        systemctl stop prometheus-alertmanager >/dev/null 2>&1 || true
    fi
    command -v prometheus-alertmanager && exit 0
fi

cat >&2 <<'MSG'
Prometheus Alertmanager is required by the tests but was not found.
  - Debian/Ubuntu:  sudo apt-get install prometheus-alertmanager
  - elsewhere:      put the `alertmanager` binary on PATH, or set ALERTMANAGER_BIN
MSG
exit 1
