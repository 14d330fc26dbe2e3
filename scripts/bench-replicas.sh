#!/usr/bin/env bash
# bench-replicas.sh - token throughput (client_credentials) with one, two and
# three Guichet replicas on one PostgreSQL and one Redis, behind nginx
# round-robin, with the peer kit's load script (bench.sh: wrk, 32 connections).
#
# Run from the repository root:
#   ./scripts/bench-replicas.sh
#
# Every replica runs on the same machine as nginx and wrk, so this shows what
# spreading requests over processes costs or gains here, not what more
# machines would give: on a two-core machine one replica already has both
# cores, and wrk and nginx take a share of them.
#
# Environment (defaults in brackets)
#   PEERS_SRC, PEERS_DIR  the peer kit (bench.sh) [/work/shared/peers, /tmp/peers]
#   PG_ADMIN_URL          PostgreSQL to create the benchmark database on
#                         [postgres://postgres@127.0.0.1:5432/postgres]
#   REDIS_URL             Redis [redis://127.0.0.1:6379]
#   REPLICAS              the replica counts to run ["1 2 3"]
#   LB_PORT               nginx's port [18090]; replicas use 18091..
#   GUICHET_BIN           a release binary to use instead of building one
#   DURATION, WARMUP, CONNECTIONS, THREADS, QUIET_WAIT, QUIET_MAX  passed to bench.sh
#
# Needs: cargo, nginx, wrk, jq, curl, psql.
set -euo pipefail

die() { echo "bench-replicas.sh: $*" >&2; exit 1; }
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

PEERS_SRC="${PEERS_SRC:-/work/shared/peers}"
PEERS_DIR="${PEERS_DIR:-/tmp/peers}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
REPLICAS="${REPLICAS:-1 2 3}"
LB_PORT="${LB_PORT:-18090}"

need() { command -v "$1" >/dev/null 2>&1 || die "missing '$1'. Install it with: $2"; }
need nginx "apt-get update && apt-get install -y nginx-light"
need wrk "apt-get update && apt-get install -y wrk"
need jq "apt-get update && apt-get install -y jq"
need curl "apt-get update && apt-get install -y curl"
need psql "apt-get update && apt-get install -y postgresql-client"

if [[ ! -x "$PEERS_DIR/bench.sh" ]]; then
  mkdir -p "$PEERS_DIR" && cp -r "$PEERS_SRC/." "$PEERS_DIR/" && chmod -R u+w "$PEERS_DIR"
fi

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$REPO/$TARGET_DIR"
if [[ -n "${GUICHET_BIN:-}" ]]; then
  BIN="$GUICHET_BIN"
else
  nice -n 10 cargo build --release -p guichet
  BIN="$TARGET_DIR/release/guichet"
fi
[[ -x "$BIN" ]] || die "no binary at $BIN"

WORK="$(mktemp -d -t guichet-replicas.XXXXXX)"
DB="guichet_bench_$(date +%s)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -f "$WORK/nginx.pid" ]] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null
export GUICHET__DATABASE__URL="${PG_ADMIN_URL%/*}/$DB"
export GUICHET__SESSIONS__REDIS_URL="$REDIS_URL"
export GUICHET__SESSIONS__KEY_PREFIX="bench-$DB:"
export GUICHET__SERVER__DATA_DIR="$WORK"
export GUICHET__SERVER__PUBLIC_URL="http://127.0.0.1:$LB_PORT"
export GUICHET__OAUTH__KEY_ENCRYPTION_KEY
GUICHET__OAUTH__KEY_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)"
export GUICHET__LOG__LEVEL=warn
export GUICHET__OPERATOR__BIND=

"$BIN" migrate >/dev/null
CLIENT_JSON="$("$BIN" client create --name bench --grant-type client_credentials --scope api --json)"
CLIENT_ID="$(jq -er .client_id <<<"$CLIENT_JSON")"
CLIENT_SECRET="$(jq -er .client_secret <<<"$CLIENT_JSON")"

RESULTS="$TARGET_DIR/bench-replicas/results-$(date +%Y%m%dT%H%M%S).tsv"
mkdir -p "$(dirname "$RESULTS")"
: >"$RESULTS"

start_replicas() {  # n
  PIDS=()
  local upstream=""
  for i in $(seq 1 "$1"); do
    local port=$((LB_PORT + i))
    GUICHET__SERVER__BIND="127.0.0.1:$port" "$BIN" serve >"$WORK/replica-$i.log" 2>&1 &
    PIDS+=($!)
    upstream+="server 127.0.0.1:$port; "
    for _ in $(seq 1 100); do
      curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  upstream guichet { $upstream keepalive 64; keepalive_timeout 5s; }
  server {
    listen 127.0.0.1:$LB_PORT;
    location / {
      proxy_pass http://guichet;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
EOF
  nginx -c "$WORK/nginx.conf" -p "$WORK"
  for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$LB_PORT/readyz" >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "nginx did not come up (see $WORK/nginx-error.log)"
}

stop_replicas() {
  kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -f "$WORK/nginx.pid"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}

for n in $REPLICAS; do
  echo "== $n replica(s) behind nginx"
  start_replicas "$n"
  # bench.sh counts the replicas' CPU as "other" work (it charges only the
  # process listening on BASE, nginx); that is the point here, not a
  # disturbance, so its retry-on-disturbance is switched off.
  env -u START_DIR START_CMD= OTHER_WARN=1000 BASE="http://127.0.0.1:$LB_PORT" LABEL="replicas-$n" \
    RESULTS="$RESULTS" ENDPOINTS=token CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" \
    CC_SCOPE=api "$PEERS_DIR/bench.sh"
  stop_replicas
done

echo
echo "## token (client_credentials) through nginx, $(nproc) cores, wrk on the same machine"
echo
echo "| replicas | req/s | p50 ms | p99 ms | errors | Guichet+nginx core-% | wrk core-% |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
# bench.sh charges srv% to the process listening on BASE (nginx here); the
# replicas' share is in other%, so both are added.
awk -F'\t' '{ n = $2; sub("replicas-", "", n)
  printf "| %s | %.0f | %.2f | %.2f | %d | %s+%s | %s |\n", n, $7, $8, $10, $12 + $13, $14, $16, $15 }' "$RESULTS"
