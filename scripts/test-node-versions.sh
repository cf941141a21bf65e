#!/usr/bin/env bash
# Runs the unit and process suites under each Node version users run (official builds
# from the npm registry, cached in .cache/node/; see scripts/node-versions.sh) against
# the bundle `npm run build` made. Usage: scripts/test-node-versions.sh [MAJOR...]
# (default: 22 24 26).
#
# This job asks one question: does the supervisor work under each Node version? The
# strict run of every test is `npm test`'s (no re-runs there). Here a test file that
# fails is run once more under the same version: a failure that repeats fails the job;
# one that does not is printed as FLAKY at the end (file, test, first lines of the
# error), where a CI log's tail shows it, and is owed a diagnosis.
set -euo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(22 24 26)
[ -f dist/supervisor.mjs ] || npm run build
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=()
flaky=()
for bin in $(scripts/node-versions.sh "${versions[@]}"); do
  v=$("$bin/node" --version)
  echo "=== $v"
  if PATH="$bin:$PATH" npx vitest run --project unit --project process --reporter=default --reporter=json --outputFile.json="$out/$v.json"; then
    continue
  fi
  summary=$(node scripts/lib/vitest-failures.mjs "$out/$v.json" 2>&1 || true)
  files=$(node scripts/lib/vitest-failures.mjs --files "$out/$v.json" 2>/dev/null || true)
  if [ -z "$files" ]; then
    failed+=("$v")
    printf '%s\n' "--- $v failed outside any test file:" "$summary" >>"$out/report"
    continue
  fi
  echo "=== $v: once more, the files that failed: $files"
  # shellcheck disable=SC2086
  if PATH="$bin:$PATH" npx vitest run --project unit --project process $files; then
    flaky+=("$v")
    printf '%s\n' "--- FLAKY under $v (failed, then passed when run again):" "$summary" >>"$out/report"
  else
    failed+=("$v")
    printf '%s\n' "--- FAILED under $v (failed twice):" "$summary" >>"$out/report"
  fi
done
[ ! -f "$out/report" ] || cat "$out/report" >&2
[ ${#flaky[@]} -eq 0 ] || echo "flaky under: ${flaky[*]}" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed under: ${failed[*]}" >&2
  exit 1
fi
