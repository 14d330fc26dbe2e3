#!/usr/bin/env bash
# bench-fuzz.sh - the hostile-input property tests with many cases: every
# parser fed from outside (identifiers, authorization requests, form bodies,
# cookies and anti-CSRF tokens, JWTs and client assertions, WebAuthn
# payloads, configuration) gets FUZZ_CASES generated inputs per property,
# and none may panic. A plain `cargo test` runs the same properties with
# proptest's default of 256 cases.
#
# Run from the repository root:
#   ./scripts/bench-fuzz.sh                 # a million cases per property
#   FUZZ_CASES=20000 ./scripts/bench-fuzz.sh
#
# Environment (defaults in brackets)
#   FUZZ_CASES     cases per property [1000000]
#   FUZZ_ONLY      run only the suites whose name contains this
#   FUZZ_PROFILE   cargo profile: dev or release [dev: the test builds CI has]
#   FUZZ_REPORT    a file the Markdown table is appended to
#
# Each suite runs its properties one at a time (--test-threads=1), so the
# seconds are per suite on one core. Exit status 1 if any property failed.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
CASES="${FUZZ_CASES:-1000000}"
ONLY="${FUZZ_ONLY:-}"
PROFILE="${FUZZ_PROFILE:-dev}"
REPORT="${FUZZ_REPORT:-/dev/null}"
release=()
[[ "$PROFILE" == release ]] && release=(--release)

# name | package | test target (lib: the library's unit tests) | filter
SUITES=(
  "identifiers (accounts)|accounts|hostile|"
  "authorize, assertions, access tokens (oauth)|oauth|hostile|"
  "cookies, csrf, languages, form bodies (server)|server|lib|http::hostile_tests"
  "WebAuthn payloads (mfa)|mfa|mfa|hostile::"
  "configuration (guichet)|guichet|hostile_settings|"
)

# Built once for the whole workspace, as `cargo test` in CI builds them:
# `cargo test -p X` would resolve other features and rebuild every
# dependency. Then each suite's program runs by itself, so that the seconds
# count the cases, not the compiler.
say() { echo "$*"; echo "$*" >>"$REPORT"; }
build_log=$(mktemp)
if ! cargo test "${release[@]}" --workspace --no-run --message-format=json >"$build_log" 2>/dev/null; then
  say "the test programs do not build"; exit 1
fi
program() { # package target
  jq -r --arg p "$1" --arg t "$2" 'select(.reason == "compiler-artifact" and .executable != null
      and (.package_id | test("[/#]" + $p + "[@#]") or test("^" + $p + " ")) and .profile.test
      and ((.target.kind | index("lib")) and $t == "lib" or .target.name == $t))
    | .executable' "$build_log" | tail -n 1
}
failed=0
say ""
say "| suite | property | cases | result | seconds (suite) |"
say "|---|---|---|---|---|"
for s in "${SUITES[@]}"; do
  IFS='|' read -r name pkg target filter <<<"$s"
  [[ -n "$ONLY" && "$name" != *"$ONLY"* ]] && continue
  exe=$(program "$pkg" "$target")
  [[ -x "$exe" ]] || { say "| $name | (no test program for $pkg/$target) | - | FAILED | - |"; failed=1; continue; }
  log=$(mktemp)
  start=$(date +%s)
  # shellcheck disable=SC2086
  PROPTEST_CASES="$CASES" "$exe" --test-threads=1 $filter >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  grep -E '^test .* \.\.\. ' "$log" | while read -r _ prop _ result; do
    say "| $name | \`${prop##*::}\` | $CASES | $result | $secs |"
  done
  if (( rc != 0 )); then
    failed=1
    grep -A20 -E 'panicked|Test failed|minimal failing input' "$log" | head -40 >&2
  fi
  rm -f "$log"
done
rm -f "$build_log"
exit "$failed"
