#!/usr/bin/env bash
# bench-peer.sh - Guichet against the certified peer provider (panva oidc-provider),
# side by side, with the peer's own load script (bench.sh: wrk, 32 connections, 10 s
# per endpoint) so that both systems get exactly the same requests.
#
# Run from the repository root:
#   ./scripts/bench-peer.sh
#
# What it does, in order:
#   1. builds Guichet in release (`cargo build --release -p guichet`);
#   2. makes a throw-away data directory and registers a client_credentials client in it;
#   3. runs bench.sh against the peer (bench.sh starts and stops it), then against Guichet
#      (bench.sh starts `guichet serve` in the data directory and stops it), both in one
#      run, appending to one results TSV;
#   4. unless REFERENCES=no, two reference runs in the same session, to read the ratios by:
#      - peer-jwt: the same peer set to issue RFC 9068 access tokens signed with ES256
#        (its resourceIndicators feature), as Guichet does; the stock peer issues
#        opaque tokens, which cost it no signature. Token endpoint only.
#      - static: nginx serving Guichet's discovery and JWKS documents as plain files,
#        one worker per core: what this machine allows for a static document while
#        wrk shares its cores. Discovery and JWKS only.
#   5. prints markdown tables: req/s and p99 of both systems and the ratio Guichet/peer,
#      then the reference rows.
#
# Environment (defaults in brackets)
#   PEERS_SRC      the read-only peer kit [/work/shared/peers]
#   PEERS_DIR      writable copy of it, with node_modules [/tmp/peers]; made if missing
#   GUICHET_PORT   port Guichet listens on [18080]; the peer uses its own default (3000)
#   RESULTS        results TSV [<target dir>/bench-peer/results-<time>.tsv]; kept afterwards
#   DURATION, WARMUP, CONNECTIONS, THREADS, QUIET_WAIT, QUIET_MAX, RETRIES, SERVER_CPUS,
#   LOAD_CPUS      passed through to bench.sh unchanged, so they apply to both systems
#                  (see the top of $PEERS_DIR/bench.sh)
#   CARGO_TARGET_DIR  honoured as cargo honours it [target]
#   GUICHET_BIN    use this release binary instead of building one
#   REFERENCES     yes | no: the two reference runs of step 4 [yes]; they need nginx
#   NICE           niceness of the build only [10], so that a build does not
#                  starve other work on a small machine; the benchmark runs at normal priority
#
# Needs: cargo, node + npm (the peer is a Node program), wrk, jq, curl, ss.
set -euo pipefail

die() { echo "bench-peer.sh: $*" >&2; exit 1; }

# Relative paths (CARGO_TARGET_DIR, RESULTS) are taken from the repository root, the
# same place cargo resolves them from when run here.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

PEERS_SRC="${PEERS_SRC:-/work/shared/peers}"
PEERS_DIR="${PEERS_DIR:-/tmp/peers}"
GUICHET_PORT="${GUICHET_PORT:-18080}"
NICE="${NICE:-10}"

# --- tools: fail before the slow build, with the way to get each one ----------------
need() {  # tool, how to install it
  command -v "$1" >/dev/null 2>&1 || die "missing '$1'. Install it with: $2"
}
need cargo "https://rustup.rs (stable 1.94 or newer)"
need wrk   "apt-get update && apt-get install -y wrk"
need jq    "apt-get update && apt-get install -y jq"
need node  "apt-get update && apt-get install -y nodejs npm   (the peer was checked with Node 20)"
need npm   "apt-get update && apt-get install -y npm"
need curl  "apt-get update && apt-get install -y curl"
need ss    "apt-get update && apt-get install -y iproute2"
REFERENCES="${REFERENCES:-yes}"
case "$REFERENCES" in
  yes) need nginx "apt-get update && apt-get install -y nginx   (or set REFERENCES=no)"
       need python3 "apt-get update && apt-get install -y python3" ;;
  no) ;;
  *) die "REFERENCES must be yes or no, got '$REFERENCES'" ;;
esac

# --- the peer kit: a writable copy, because npm install writes node_modules beside it -----
if [[ ! -x "$PEERS_DIR/bench.sh" ]]; then
  [[ -d "$PEERS_SRC" ]] || die "no peer kit at $PEERS_SRC (set PEERS_SRC) and none at $PEERS_DIR"
  echo "== copying $PEERS_SRC to $PEERS_DIR"
  mkdir -p "$PEERS_DIR"
  cp -r "$PEERS_SRC/." "$PEERS_DIR/"
  chmod -R u+w "$PEERS_DIR"   # the source is read-only; npm must write here
fi
if [[ ! -d "$PEERS_DIR/oidc-provider/node_modules/oidc-provider" ]]; then
  echo "== npm install in $PEERS_DIR/oidc-provider"
  (cd "$PEERS_DIR/oidc-provider" && npm install --no-audit --no-fund)
fi

# Every server must be startable by bench.sh: it refuses a port that is already taken.
STATIC_PORT="${STATIC_PORT:-18090}"
for p in 3000 "$GUICHET_PORT" "$STATIC_PORT"; do
  [[ -z "$(ss -Htln "sport = :$p")" ]] || die "port $p is already in use (the peer needs 3000; set GUICHET_PORT for Guichet)"
done

# --- 1. build ------------------------------------------------------------------------
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$REPO/$TARGET_DIR"
if [[ -n "${GUICHET_BIN:-}" ]]; then
  BIN="$GUICHET_BIN"   # a binary built earlier (e.g. copied aside while the tree changes)
  echo "== using $BIN (no build)"
else
  echo "== cargo build --release -p guichet (nice $NICE; target dir $TARGET_DIR)"
  nice -n "$NICE" cargo build --release -p guichet
  BIN="$TARGET_DIR/release/guichet"
fi
[[ -x "$BIN" ]] || die "no binary at $BIN after the build"

# --- 2. throw-away data dir and a client -------------------------------------------------
# A fresh SQLite database each time: no state from an earlier run, and nothing left behind.
DATA_DIR="$(mktemp -d -t guichet-bench.XXXXXX)"
finish() {  # on failure show the servers' logs before they go with the data dir
  local rc=$?
  if (( rc != 0 )); then
    for f in "$DATA_DIR"/*.log; do [[ -s "$f" ]] && { echo "--- tail of $f" >&2; tail -20 "$f" >&2; }; done
  fi
  rm -rf "$DATA_DIR"
}
trap finish EXIT

RESULTS="${RESULTS:-$TARGET_DIR/bench-peer/results-$(date +%Y%m%dT%H%M%S).tsv}"
mkdir -p "$(dirname "$RESULTS")"
: >"$RESULTS"   # one file per run: the table below is read from it

echo "== registering a client_credentials client in $DATA_DIR"
CLIENT_JSON="$(GUICHET__SERVER__DATA_DIR="$DATA_DIR" GUICHET__LOG__LEVEL=warn \
  "$BIN" client create --name bench --grant-type client_credentials --scope api --json)"
CLIENT_ID="$(jq -er '.client_id' <<<"$CLIENT_JSON")" || die "no client_id in: $CLIENT_JSON"
CLIENT_SECRET="$(jq -er '.client_secret' <<<"$CLIENT_JSON")" || die "no client_secret in: $CLIENT_JSON"

# Variables that would redirect bench.sh away from the system meant; the peer run must see
# bench.sh's own defaults, the Guichet run exactly what is set below.
CLEAR=(-u BASE -u START_CMD -u START_DIR -u CLIENT_ID -u CLIENT_SECRET -u DISCOVERY_PATH
       -u CC_SCOPE -u LABEL -u TOKEN_AUTH -u ENDPOINTS -u JWKS_PATH -u TOKEN_PATH
       -u INTROSPECTION_PATH -u SERVER_LOG)

# --- 3a. the peer, with the peer's defaults -----------------------------------------------
echo
echo "== peer: oidc-provider (bench.sh defaults)"
env "${CLEAR[@]}" RESULTS="$RESULTS" LABEL=peer SERVER_LOG="$DATA_DIR/peer.log" \
  "$PEERS_DIR/bench.sh"

# --- 3b. Guichet ---------------------------------------------------------------------
# The "discovery" row loads OpenID discovery, as it does for the peer.
# The server inherits the GUICHET__* variables: bench.sh starts it with exec in START_DIR.
# Builds that have the operator API open it on a fixed port (127.0.0.1:8081) beside the
# public one; the benchmark does not use it, and a fixed port would clash with another
# Guichet (tests, a dev server) on the same machine, so switch it off where it exists.
# The check reads the embedded defaults: an unknown GUICHET__ key is refused at start-up.
EXTRA=()
grep -q '^\[operator\]' config/default.toml && EXTRA+=(GUICHET__OPERATOR__BIND=)
echo
echo "== Guichet on 127.0.0.1:$GUICHET_PORT"
env "${CLEAR[@]}" ${EXTRA[@]+"${EXTRA[@]}"} RESULTS="$RESULTS" LABEL=guichet SERVER_LOG="$DATA_DIR/guichet.log" \
  GUICHET__SERVER__DATA_DIR="$DATA_DIR" \
  GUICHET__SERVER__BIND="127.0.0.1:$GUICHET_PORT" \
  GUICHET__LOG__LEVEL=warn \
  START_DIR="$DATA_DIR" START_CMD="$BIN serve" BASE="http://127.0.0.1:$GUICHET_PORT" \
  DISCOVERY_PATH=/.well-known/openid-configuration \
  CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" CC_SCOPE=api \
  "$PEERS_DIR/bench.sh"

# --- 4. reference runs ----------------------------------------------------------------------
if [[ "$REFERENCES" == yes ]]; then
  # 4a. The peer issuing the same kind of access token as Guichet: a copy of its
  # server.mjs with the resourceIndicators feature on, every client_credentials token
  # for one resource, as an ES256 `at+jwt`. The insertion point is checked, so that a
  # changed peer kit fails here instead of measuring the stock peer twice.
  PEER_SRV="$PEERS_DIR/oidc-provider"
  python3 - "$PEER_SRV/server.mjs" "$PEER_SRV/server-jwt.mjs" <<'PY' || die "could not derive the JWT-issuing peer from server.mjs"
import sys
src = open(sys.argv[1]).read()
anchor = "    revocation: { enabled: true },\n"
if src.count(anchor) != 1:
    sys.exit("server.mjs changed: no single '" + anchor.strip() + "' line to add the feature after")
feature = anchor + """    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'https://api.bench.test',
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: 'https://api.bench.test',
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
"""
open(sys.argv[2], "w").write(src.replace(anchor, feature))
PY
  echo
  echo "== reference: the peer issuing ES256 JWT access tokens (token endpoint only)"
  env "${CLEAR[@]}" RESULTS="$RESULTS" LABEL=peer-jwt SERVER_LOG="$DATA_DIR/peer-jwt.log" \
    START_DIR="$PEER_SRV" START_CMD="node server-jwt.mjs" ENDPOINTS=token \
    "$PEERS_DIR/bench.sh"
  # The derived peer must really have issued JWTs, or the row means nothing.
  grep -q 'accessTokenFormat' "$PEER_SRV/server-jwt.mjs" || die "server-jwt.mjs lost its feature"

  # 4b. The documents Guichet serves, as files behind nginx. Guichet is started once
  # more, only to read them.
  # A directory of its own, readable by nginx's workers (which drop to an unprivileged
  # user when started as root): it holds only the two public documents.
  STATIC="$DATA_DIR/static"
  mkdir -p "$STATIC/www/.well-known" "$STATIC/www/oauth2" "$STATIC/tmp"
  chmod 711 "$DATA_DIR"
  chmod -R a+rX "$STATIC/www"
  env "${CLEAR[@]}" ${EXTRA[@]+"${EXTRA[@]}"} GUICHET__SERVER__DATA_DIR="$DATA_DIR" \
    GUICHET__SERVER__BIND="127.0.0.1:$GUICHET_PORT" GUICHET__LOG__LEVEL=warn \
    "$BIN" serve >"$DATA_DIR/guichet-docs.log" 2>&1 &
  DOCS_PID=$!
  for _ in $(seq 100); do
    curl -fsS -o "$STATIC/www/.well-known/openid-configuration" \
      "http://127.0.0.1:$GUICHET_PORT/.well-known/openid-configuration" 2>/dev/null && break
    sleep 0.1
  done
  curl -fsS -o "$STATIC/www/oauth2/jwks" "http://127.0.0.1:$GUICHET_PORT/oauth2/jwks" \
    || { kill "$DOCS_PID"; die "could not read Guichet's JWKS for the static reference"; }
  kill "$DOCS_PID"; wait "$DOCS_PID" 2>/dev/null || true
  [[ "$(jq -r '.jwks_uri' "$STATIC/www/.well-known/openid-configuration")" == */oauth2/jwks ]] \
    || die "Guichet's jwks_uri is no longer /oauth2/jwks; update the static reference"
  cat >"$STATIC/nginx.conf" <<NGINX
worker_processes auto;
pid $STATIC/nginx.pid;
error_log $STATIC/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $STATIC/tmp;
  proxy_temp_path $STATIC/tmp;
  fastcgi_temp_path $STATIC/tmp;
  uwsgi_temp_path $STATIC/tmp;
  scgi_temp_path $STATIC/tmp;
  keepalive_requests 10000000;
  open_file_cache max=16;
  sendfile on;
  tcp_nodelay on;
  server {
    listen 127.0.0.1:$STATIC_PORT;
    root $STATIC/www;
    default_type application/json;
  }
}
NGINX
  echo
  echo "== reference: nginx serving the same discovery and JWKS documents as files"
  # bench.sh counts one process as the server: here one nginx worker of several, the
  # others landing in other%. That is no disturbance, so nothing is retried for it.
  env "${CLEAR[@]}" RESULTS="$RESULTS" LABEL=static SERVER_LOG="$DATA_DIR/static.log" \
    RETRIES=0 OTHER_WARN=1000 \
    START_DIR="$STATIC" START_CMD="nginx -c $STATIC/nginx.conf" \
    BASE="http://127.0.0.1:$STATIC_PORT" ENDPOINTS="discovery jwks" \
    "$PEERS_DIR/bench.sh"
fi

# --- 5. the comparison -------------------------------------------------------------------
# RESULTS columns: 1 time 2 sut 3 conns 4 threads 5 dur 6 endpoint 7 rps 8 p50 9 p90 10 p99
#                  11 max 12 non2xx 13 sockE 14 srv% 15 wrk% 16 other% 17 req/cpu-s
echo
echo "## Guichet / oidc-provider, $(nproc) cores, wrk on the same machine ($RESULTS)"
echo
awk -F'\t' -v ow="${OTHER_WARN:-15}" '
  { k = $2 SUBSEP $6; rps[k] = $7; p99[k] = $10; bad[k] = $12 + $13
    srv[k] = $14; wrk[k] = $15; oth[k] = $16
    if (!($6 in seen)) { seen[$6] = 1; order[++n] = $6 } }
  END {
    name["token_cc"] = "token (client_credentials)"
    print "| endpoint | peer req/s | Guichet req/s | Guichet/peer | peer p99 ms | Guichet p99 ms |"
    print "| --- | ---: | ---: | ---: | ---: | ---: |"
    for (i = 1; i <= n; i++) { e = order[i]; p = "peer" SUBSEP e; g = "guichet" SUBSEP e
      r = (rps[p] > 0) ? sprintf("%.2f×", rps[g] / rps[p]) : "n/a"
      printf "| %s | %.0f | %.0f | %s | %.2f | %.2f |\n", (e in name ? name[e] : e), rps[p], rps[g], r, p99[p], p99[g] }
    print ""
    print "CPU in core-% (100 = one core busy for the run): server, wrk, everything else"
    print ""
    print "| endpoint | peer srv% | peer wrk% | peer other% | Guichet srv% | Guichet wrk% | Guichet other% |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for (i = 1; i <= n; i++) { e = order[i]; p = "peer" SUBSEP e; g = "guichet" SUBSEP e
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", e, srv[p], wrk[p], oth[p], srv[g], wrk[g], oth[g] }
    # Error responses are fast and would inflate req/s: say so rather than hide it.
    for (k in bad) if (bad[k] > 0) { split(k, a, SUBSEP)
      w = w sprintf("WARNING: %s %s had %d non-2xx/3xx responses or socket errors\n", a[1], a[2], bad[k]) }
    # Other work on the machine took CPU from the run (bench.sh retried it and kept the last try).
    for (k in oth) if (oth[k] > ow) { split(k, a, SUBSEP); if (a[1] == "static") continue
      w = w sprintf("WARNING: %s %s was disturbed: other%% = %s > %s; rerun on a quiet machine\n", a[1], a[2], oth[k], ow) }
    if (w != "") printf "\n%s", w
    # Reference rows (REFERENCES=yes): what the same work costs the peer, and what
    # the machine allows for a file.
    nref = 0
    for (i = 1; i <= n; i++) { e = order[i]; g = "guichet" SUBSEP e
      for (r = 1; r <= 2; r++) { ref = (r == 1) ? "peer-jwt" : "static"; k = ref SUBSEP e
        if (!(k in rps) || rps[k] <= 0) continue
        if (nref++ == 0) {
          print ""
          print "References in the same run: the peer issuing ES256 JWT access tokens (peer-jwt),"
          print "and nginx serving the same documents as files (static; srv% is one of its workers)"
          print ""
          print "| endpoint | reference | reference req/s | reference/peer | Guichet req/s | Guichet/reference | reference p99 ms | Guichet p99 ms |"
          print "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        }
        p = "peer" SUBSEP e
        rp = (rps[p] > 0) ? sprintf("%.2f×", rps[k] / rps[p]) : "n/a"
        printf "| %s | %s | %.0f | %s | %.0f | %.2f× | %.2f | %.2f |\n", (e in name ? name[e] : e), ref, rps[k], rp, rps[g], rps[g] / rps[k], p99[k], p99[g] } }
  }' "$RESULTS"
