#!/usr/bin/env bash
# `make images`: the container images, from binaries compiled on this host
# (no Rust toolchain inside any image):
#   jilin-base:local  FROM scratch: the shared libraries the binaries need,
#                     read off ldd (glibc, libgcc_s, libm and the loader),
#                     and a user 65532. Made here because no base image can
#                     be pulled; elsewhere, BASE_IMAGE=gcr.io/distroless/cc.
#   jilin:local       the three services and `jilin` (deploy/docker/Dockerfile)
#   jilin-nats:local  nats-server and deploy/nats/cluster.conf
# BASE_IMAGE=... uses another base instead of building jilin-base:local.
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v docker >/dev/null || { echo "make images needs Docker Engine" >&2; exit 1; }
cargo build --release -p jilin -p jilin-registry -p jilin-indicators -p jilin-risk
nats_server="$(deploy/scripts/ensure-nats-server.sh)"
binaries=(target/release/jilin target/release/jilin-registry target/release/jilin-indicators target/release/jilin-risk)

stage=target/images
rm -rf "$stage"
mkdir -p "$stage/base/etc" "$stage/base/tmp" "$stage/app/data" "$stage/nats/data"
cp "${binaries[@]}" "$stage/app/"
# Symbols are for debugging on the build host, not for the image.
if command -v strip >/dev/null; then strip "$stage"/app/jilin*; fi
cp "$nats_server" "$stage/nats/nats-server"
cp deploy/nats/cluster.conf "$stage/nats/"

base="${BASE_IMAGE:-}"
if [[ -z "$base" ]]; then
  base=jilin-base:local
  # Every library any binary loads, and the loader itself.
  for binary in "${binaries[@]}" "$nats_server"; do
    ldd "$binary" | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }'
  done | sort -u | while read -r library; do
    cp -L --parents "$library" "$stage/base/"
  done
  echo "nonroot:x:65532:65532:nonroot:/data:/sbin/nologin" > "$stage/base/etc/passwd"
  echo "nonroot:x:65532:" > "$stage/base/etc/group"
  chmod 1777 "$stage/base/tmp"
  tar -C "$stage/base" --numeric-owner --owner=0 --group=0 -c . \
    | docker import -m "jilin base: glibc and libgcc from this host" - "$base" >/dev/null
fi

docker build -q --build-arg BASE_IMAGE="$base" -t jilin:local -f deploy/docker/Dockerfile "$stage/app" >/dev/null
docker build -q --build-arg BASE_IMAGE="$base" -t jilin-nats:local -f deploy/nats/Dockerfile "$stage/nats" >/dev/null
docker images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^jilin(-base|-nats)?:local'
