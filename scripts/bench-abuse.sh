#!/usr/bin/env bash
# bench-abuse.sh - does a flood of abusive clients (slow senders, oversized
# headers and bodies, forms with too many fields: scripts/abuse.py) hurt the
# honest ones? Runs the peer kit's bench.sh on the token endpoint
# (client_credentials) against one Guichet twice: quiet, then with the
# abusers running, and prints p99 of both and their ratio (the bar: within 2x),
# then what the abusers were answered.
#
# Run from the repository root:   ./scripts/bench-abuse.sh
#
# Environment (defaults in brackets)
#   PEERS_SRC, PEERS_DIR  the peer kit [/work/shared/peers, /tmp/peers]
#   GUICHET_PORT          [18100]
#   GUICHET_BIN           a release binary to use instead of building one
#   DURATION, WARMUP, CONNECTIONS, THREADS  passed to bench.sh
#
# Needs: cargo, python3, wrk, jq, curl.
set -euo pipefail

die() { echo "bench-abuse.sh: $*" >&2; exit 1; }
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PEERS_SRC="${PEERS_SRC:-/work/shared/peers}"
PEERS_DIR="${PEERS_DIR:-/tmp/peers}"
GUICHET_PORT="${GUICHET_PORT:-18100}"
DURATION="${DURATION:-10s}"
for t in wrk jq curl python3; do command -v "$t" >/dev/null || die "missing $t (apt-get install -y $t)"; done
if [[ ! -x "$PEERS_DIR/bench.sh" ]]; then
  mkdir -p "$PEERS_DIR" && cp -r "$PEERS_SRC/." "$PEERS_DIR/" && chmod -R u+w "$PEERS_DIR"
fi
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$REPO/$TARGET_DIR"
if [[ -n "${GUICHET_BIN:-}" ]]; then BIN="$GUICHET_BIN"; else
  nice -n 10 cargo build --release -p guichet; BIN="$TARGET_DIR/release/guichet"; fi

WORK="$(mktemp -d -t guichet-abuse.XXXXXX)"
SERVER=""
cleanup() { [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export GUICHET__SERVER__DATA_DIR="$WORK" GUICHET__LOG__LEVEL=error GUICHET__OPERATOR__BIND=
export GUICHET__SERVER__BIND="127.0.0.1:$GUICHET_PORT"
CLIENT_JSON="$("$BIN" client create --name bench --grant-type client_credentials --scope api --json)"
CLIENT_ID="$(jq -er .client_id <<<"$CLIENT_JSON")"
CLIENT_SECRET="$(jq -er .client_secret <<<"$CLIENT_JSON")"
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$GUICHET_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

RESULTS="$TARGET_DIR/bench-abuse/results-$(date +%Y%m%dT%H%M%S).tsv"
mkdir -p "$(dirname "$RESULTS")"; : >"$RESULTS"
run() {  # label
  env -u START_DIR START_CMD= OTHER_WARN=1000 QUIET_WAIT=0 BASE="http://127.0.0.1:$GUICHET_PORT" \
    LABEL="$1" RESULTS="$RESULTS" ENDPOINTS=token CLIENT_ID="$CLIENT_ID" \
    CLIENT_SECRET="$CLIENT_SECRET" CC_SCOPE=api DURATION="$DURATION" "$PEERS_DIR/bench.sh"
}
echo "== quiet"
run quiet
echo "== with abusive clients"
secs="${DURATION%s}"
python3 scripts/abuse.py 127.0.0.1 "$GUICHET_PORT" "$((secs + 6))" >"$WORK/abuse.tsv" &
ABUSER=$!
sleep 2   # let the slow clients pile up first
run abused
wait "$ABUSER" || true

echo
echo "## token (client_credentials), quiet and under abusive clients, $(nproc) cores"
echo
echo "| run | req/s | p50 ms | p99 ms | errors |"
echo "| --- | ---: | ---: | ---: | ---: |"
awk -F'\t' '{ printf "| %s | %.0f | %.2f | %.2f | %d |\n", $2, $7, $8, $10, $12 + $13 }' "$RESULTS"
awk -F'\t' '{ p[$2] = $10 } END { if (p["quiet"] > 0) printf "\np99 under abuse / quiet p99: %.2f×\n", p["abused"] / p["quiet"] }' "$RESULTS"
echo
echo "What the abusive clients got:"
echo
echo "| abuse | answer | count |"
echo "| --- | --- | ---: |"
awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$WORK/abuse.tsv"
