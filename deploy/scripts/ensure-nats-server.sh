#!/usr/bin/env bash
# Makes sure a nats-server binary (2.9 or later, with JetStream) is available
# and prints its path. Installs Debian's package when running as root on a
# Debian/Ubuntu machine; otherwise explains how to install it.
set -euo pipefail

find_nats_server() {
    if [[ -n "${NATS_SERVER_BIN:-}" && -x "${NATS_SERVER_BIN}" ]]; then
        echo "${NATS_SERVER_BIN}"; return 0
    fi
    command -v nats-server 2>/dev/null && return 0
    for candidate in /usr/sbin/nats-server /usr/local/bin/nats-server /usr/bin/nats-server; do
        if [[ -x "$candidate" ]]; then echo "$candidate"; return 0; fi
    done
    return 1
}

if found=$(find_nats_server); then
    echo "$found"
    exit 0
fi

if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    echo "nats-server not found: installing Debian's nats-server package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq nats-server >&2
    # The package enables a system service we do not use.
    (systemctl disable --now nats-server >/dev/null 2>&1 || true)
    find_nats_server && exit 0
fi

cat >&2 <<'MSG'
nats-server (with JetStream) is required but was not found.
Install it, then run the command again:
  - Debian/Ubuntu:  sudo apt-get install nats-server
  - any system:     download a release from the NATS project and put
                    nats-server on PATH, or set NATS_SERVER_BIN=/path/to/nats-server
MSG
exit 1
