#!/usr/bin/env bash
# Runs the unit and process suites under each Node version users run (official builds
# from the npm registry, cached in .cache/node/; see scripts/node-versions.sh) against
# the bundle `npm run build` made. Usage: scripts/test-node-versions.sh [MAJOR...]
# (default: 22 24 26).
set -euo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(22 24 26)
[ -f dist/supervisor.mjs ] || npm run build
failed=()
for bin in $(scripts/node-versions.sh "${versions[@]}"); do
  echo "=== $("$bin/node" --version)"
  PATH="$bin:$PATH" npx vitest run --project unit --project process || failed+=("$("$bin/node" --version)")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed under: ${failed[*]}" >&2
  exit 1
fi
