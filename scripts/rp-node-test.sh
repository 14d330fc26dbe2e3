#!/usr/bin/env bash
# End-to-end test with a relying party from another ecosystem: panva's
# openid-client on Node signs a user in at a real Guichet process and uses the
# tokens (tests/rp-node/signin.test.mjs). A second, independent implementation
# catches what our own Rust tests, written against our own reading of the specs,
# cannot.
#
# Steps: build the server, start it on a free loopback port with a throwaway data
# directory, register the relying party with the operator CLI, install the Node
# dependencies from the committed lockfile, run the Node tests, stop the server.
# Exits with the Node test runner's status.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The test uses Node's built-in test runner and fetch; openid-client v6 needs Node 20+.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "rp-node: node and npm are required (Node 20 or later)" >&2
  exit 1
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "rp-node: Node 20 or later is required, found $(node --version)" >&2
  exit 1
fi

# The same binary the Rust end-to-end tests run; a no-op when already built.
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --quiet -p guichet-tests --bin guichet-under-test
GUICHET="$TARGET_DIR/debug/guichet-under-test"
case "$GUICHET" in /*) ;; *) GUICHET="$ROOT/$GUICHET" ;; esac

# A free loopback port, chosen by the kernel (bind to port 0) and then released.
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })'
}
PORT=$(free_port)
# Nothing listens on the relying party's port: the test reads the callback URL
# from Guichet's redirect instead of receiving it, but the URI must be registered.
RP_PORT=$(free_port)
ISSUER="http://127.0.0.1:$PORT"
REDIRECT_URI="http://127.0.0.1:$RP_PORT/cb"

# A throwaway server: its own SQLite database and keys in a temp directory.
DATA_DIR=$(mktemp -d)
export GUICHET__SERVER__DATA_DIR="$DATA_DIR"
export GUICHET__SERVER__BIND="127.0.0.1:$PORT"
export GUICHET__LOG__LEVEL=warn
# The relying party is what is tested here; the code mailed on a login from a new
# device (every run is one) is tested in tests/e2e/recovery.rs.
export GUICHET__LOGIN__EMAIL_CODE=never
# No operator listener: this test does not use it, and its fixed default port
# would collide with another Guichet running on the machine.
export GUICHET__OPERATOR__BIND=
SERVER_LOG="$DATA_DIR/server.log"
SERVER_PID=

# Whatever happens, stop the server gracefully (SIGTERM) and remove its data.
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DATA_DIR"
}
trap cleanup EXIT

"$GUICHET" serve >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

# Wait until /healthz answers; give up (with the server's log) if it died or
# did not come up within 60 s.
up=
for _ in $(seq 1 120); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
  if node -e 'fetch(process.argv[1]).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
    "$ISSUER/healthz"; then
    up=1
    break
  fi
  sleep 0.5
done
if [ -z "$up" ]; then
  echo "rp-node: Guichet did not come up on $ISSUER; its log:" >&2
  cat "$SERVER_LOG" >&2
  exit 1
fi

# Register the relying party while the server runs, as an operator would.
CLIENT_JSON=$("$GUICHET" client create --name "Node RP" --redirect-uri "$REDIRECT_URI" \
  --grant-type authorization_code --grant-type client_credentials \
  --scope openid --scope profile --scope email --scope api \
  --first-party true --json)
CLIENT_ID=$(node -p 'JSON.parse(process.argv[1]).client_id' "$CLIENT_JSON")
CLIENT_SECRET=$(node -p 'JSON.parse(process.argv[1]).client_secret' "$CLIENT_JSON")

# Install exactly what the committed lockfile says; skip when node_modules is
# already in step with it (npm keeps its own copy of the lockfile there).
cd "$ROOT/tests/rp-node"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# TAP output, so that the summary lines (# pass N, # fail N) can be read back.
OUT="$DATA_DIR/node-test.out"
set +e
GUICHET_ISSUER="$ISSUER" CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" \
  REDIRECT_URI="$REDIRECT_URI" npm test --silent -- --test-reporter=tap 2>&1 | tee "$OUT"
status=${PIPESTATUS[0]}
set -e

passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$OUT" | tail -n1)
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$OUT" | tail -n1)
if [ "$status" -ne 0 ]; then
  echo "rp-node: Guichet's log:" >&2
  tail -n 50 "$SERVER_LOG" >&2
fi
if [ -n "$passed" ] && [ -n "$failed" ]; then
  echo "rp-node: $passed passed, $failed failed"
fi
exit "$status"
