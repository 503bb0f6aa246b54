#!/usr/bin/env bash
# Makes sure libfaketime's `faketime` command is available and prints its
# path. Installs Debian's package when running as root on a Debian/Ubuntu
# machine; otherwise explains how to install it.
set -euo pipefail

if found=$(command -v faketime); then
    echo "$found"
    exit 0
fi

if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    echo "faketime not found: installing Debian's faketime package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq faketime >&2
    command -v faketime && exit 0
fi

cat >&2 <<'MSG'
faketime (libfaketime) is required but was not found.
  - Debian/Ubuntu:  sudo apt-get install faketime
  - Fedora:         sudo dnf install libfaketime
MSG
exit 1
