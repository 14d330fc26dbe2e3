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
#   3. starts the peer and Guichet once, and unless REFERENCES=no two references:
#      - peer-jwt: the same peer set to issue RFC 9068 access tokens signed with ES256
#        (its resourceIndicators feature), as Guichet does; the stock peer issues
#        opaque tokens, which cost it no signature. Token endpoint only.
#      - static: nginx serving Guichet's discovery and JWKS documents as plain files,
#        one worker per core: what this machine allows for a static document while
#        wrk shares its cores. Discovery and JWKS only.
#   4. ROUNDS rounds; in each, every endpoint is run with the peer's bench.sh against the
#      peer, Guichet and its reference in turn, so that the systems compared are measured
#      seconds apart (the machine's speed drifts over minutes);
#   5. prints markdown tables: medians of req/s and p99 over the rounds, and the ratio
#      Guichet/peer taken round by round.
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
#   REFERENCES     yes | no: the two references of step 3 [yes]; they need nginx
#   ROUNDS         rounds of step 4 [3]; each takes about 2.5 minutes with the defaults
#   STATIC_PORT    port nginx listens on for the static reference [18090]
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
for p in 3000 3001 "$GUICHET_PORT" "$STATIC_PORT"; do
  [[ -z "$(ss -Htln "sport = :$p")" ]] || die "port $p is already in use (the peers need 3000 and 3001; set GUICHET_PORT or STATIC_PORT for the others)"
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

# Variables that would redirect bench.sh away from the system meant: every run below sets
# what it needs and nothing else leaks in.
CLEAR=(-u BASE -u START_CMD -u START_DIR -u CLIENT_ID -u CLIENT_SECRET -u DISCOVERY_PATH
       -u CC_SCOPE -u LABEL -u TOKEN_AUTH -u ENDPOINTS -u JWKS_PATH -u TOKEN_PATH
       -u INTROSPECTION_PATH -u SERVER_LOG)

# --- 3. the servers, started once and kept for every round -------------------------------
# Each is started here rather than by bench.sh, so that the rounds below can take turns
# between them: the machine's speed drifts by tens of percent over minutes, and a ratio
# taken between two runs a few seconds apart is worth more than one taken between a
# whole run of the peer and a whole run of Guichet a minute later.
PIDS=()
stop_servers() {
  local pid
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill "$pid" 2>/dev/null || true; done
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap 'rc=$?; stop_servers; (exit "$rc"); finish' EXIT
start_server() {  # name dir command...: runs it in dir, output in $DATA_DIR/name.log
  local name="$1" dir="$2" pin=(); shift 2
  [[ -n "${SERVER_CPUS:-}" ]] && pin=(taskset -c "$SERVER_CPUS")
  ( cd "$dir" && exec ${pin[@]+"${pin[@]}"} "$@" ) >"$DATA_DIR/$name.log" 2>&1 &
  PIDS+=($!)
}
wait_up() {  # name url
  local _
  for _ in $(seq 300); do curl -fsS -o /dev/null "$2" 2>/dev/null && return 0; sleep 0.2; done
  die "$1 did not answer $2 within 60 s (log: $DATA_DIR/$1.log)"
}

PEER_SRV="$PEERS_DIR/oidc-provider"
echo "== starting the peer (oidc-provider, as its kit ships it) on 127.0.0.1:3000"
start_server peer "$PEER_SRV" node server.mjs
echo "== starting Guichet on 127.0.0.1:$GUICHET_PORT"
# Builds that have the operator API open it on a fixed port (127.0.0.1:8081) beside the
# public one; the benchmark does not use it, and a fixed port would clash with another
# Guichet (tests, a dev server) on the same machine, so switch it off where it exists.
# The check reads the embedded defaults: an unknown GUICHET__ key is refused at start-up.
EXTRA=()
grep -q '^\[operator\]' config/default.toml && EXTRA+=(GUICHET__OPERATOR__BIND=)
start_server guichet "$DATA_DIR" env ${EXTRA[@]+"${EXTRA[@]}"} \
  GUICHET__SERVER__DATA_DIR="$DATA_DIR" GUICHET__SERVER__BIND="127.0.0.1:$GUICHET_PORT" \
  GUICHET__LOG__LEVEL=warn "$BIN" serve
wait_up peer http://127.0.0.1:3000/.well-known/openid-configuration
wait_up guichet "http://127.0.0.1:$GUICHET_PORT/.well-known/openid-configuration"

PEER_JWT_PORT=3001
if [[ "$REFERENCES" == yes ]]; then
  # The peer issuing the same kind of access token as Guichet: a copy of its server.mjs
  # with the resourceIndicators feature on, every client_credentials token for one
  # resource, as an ES256 `at+jwt`. The insertion point is checked, so that a changed
  # peer kit fails here instead of measuring the stock peer twice.
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
  echo "== starting the peer issuing ES256 JWT access tokens on 127.0.0.1:$PEER_JWT_PORT"
  start_server peer-jwt "$PEER_SRV" env PORT="$PEER_JWT_PORT" node server-jwt.mjs
  wait_up peer-jwt "http://127.0.0.1:$PEER_JWT_PORT/.well-known/openid-configuration"
  # Its token must really be a JWT, or its row would mean nothing.
  PEER_JWT_TOKEN="$(curl -fsS -u bench:bench-secret -d grant_type=client_credentials -d scope=api \
    "http://127.0.0.1:$PEER_JWT_PORT/token" | jq -r '.access_token')"
  [[ "$(cut -d. -f1 <<<"$PEER_JWT_TOKEN" | base64 -d 2>/dev/null | jq -r '.typ' 2>/dev/null)" == at+jwt ]] \
    || die "the JWT-issuing peer did not issue an at+jwt access token"

  # The documents Guichet serves, as files behind nginx, one worker per core. The
  # directory is readable by nginx's workers (which drop to an unprivileged user when
  # started as root): it holds only the two public documents.
  STATIC="$DATA_DIR/static"
  mkdir -p "$STATIC/www/.well-known" "$STATIC/www/oauth2" "$STATIC/tmp"
  chmod 711 "$DATA_DIR"
  curl -fsS -o "$STATIC/www/.well-known/openid-configuration" \
    "http://127.0.0.1:$GUICHET_PORT/.well-known/openid-configuration"
  curl -fsS -o "$STATIC/www/oauth2/jwks" "http://127.0.0.1:$GUICHET_PORT/oauth2/jwks"
  [[ "$(jq -r '.jwks_uri' "$STATIC/www/.well-known/openid-configuration")" == */oauth2/jwks ]] \
    || die "Guichet's jwks_uri is no longer /oauth2/jwks; update the static reference"
  chmod -R a+rX "$STATIC/www"
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
  echo "== starting nginx with Guichet's discovery and JWKS documents on 127.0.0.1:$STATIC_PORT"
  start_server static "$STATIC" nginx -c "$STATIC/nginx.conf"
  wait_up static "http://127.0.0.1:$STATIC_PORT/oauth2/jwks"
fi

# --- 4. rounds: each endpoint on each system in turn -----------------------------------------
ROUNDS="${ROUNDS:-3}"
[[ "$ROUNDS" =~ ^[1-9][0-9]?$ ]] || die "ROUNDS must be a whole number from 1 to 99, got '$ROUNDS'"
bench() {  # label endpoint VAR=value...: one bench.sh run against a server already up
  local label="$1" ep="$2"; shift 2
  env "${CLEAR[@]}" RESULTS="$RESULTS" LABEL="$label" START_CMD= ENDPOINTS="$ep" "$@" \
    "$PEERS_DIR/bench.sh" >"$DATA_DIR/bench-last.out" 2>&1 \
    || { cat "$DATA_DIR/bench-last.out" >&2; die "bench.sh failed for $label $ep"; }
  printf '%-9s %s\n' "$label" "$(grep -E "^(discovery|jwks|token_cc|introspection) " "$DATA_DIR/bench-last.out" | tail -1)"
}
GUICHET_ENV=(BASE="http://127.0.0.1:$GUICHET_PORT" DISCOVERY_PATH=/.well-known/openid-configuration
             CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" CC_SCOPE=api)
for ((round = 1; round <= ROUNDS; round++)); do
  echo
  echo "== round $round of $ROUNDS: wrk -t${THREADS:-2} -c${CONNECTIONS:-32} -d${DURATION:-10s} per run"
  echo "          endpoint            req/s    p50ms    p90ms    p99ms    maxms  non2xx  sockE   srv%   wrk% other%  req/cpu-s"
  for ep in discovery jwks token introspection; do
    bench peer "$ep"
    bench guichet "$ep" "${GUICHET_ENV[@]}"
    if [[ "$REFERENCES" == yes ]]; then
      case "$ep" in
        token) bench peer-jwt "$ep" BASE="http://127.0.0.1:$PEER_JWT_PORT" ;;
        # bench.sh counts one process as the server: here one nginx worker of several,
        # the others landing in other%. That is no disturbance, so nothing is retried.
        discovery|jwks) bench static "$ep" BASE="http://127.0.0.1:$STATIC_PORT" RETRIES=0 OTHER_WARN=1000 ;;
      esac
    fi
  done
done
stop_servers

# --- 5. the comparison -------------------------------------------------------------------
# RESULTS columns: 1 time 2 sut 3 conns 4 threads 5 dur 6 endpoint 7 rps 8 p50 9 p90 10 p99
#                  11 max 12 non2xx 13 sockE 14 srv% 15 wrk% 16 other% 17 req/cpu-s
# The k-th row of a system for an endpoint belongs to round k.
echo
echo "## Guichet / oidc-provider, $(nproc) cores, wrk on the same machine, $ROUNDS rounds ($RESULTS)"
echo
awk -F'\t' -v ow="${OTHER_WARN:-15}" -v rounds="$ROUNDS" '
  function median(a, n,   i, j, t, b) {  # of a[1..n], without changing a
    for (i = 1; i <= n; i++) b[i] = a[i]
    for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]; b[j + 1] = t }
    return (n % 2) ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
  }
  function med(field, sut, e,   i, a, n) {
    n = 0; for (i = 1; i <= cnt[sut SUBSEP e]; i++) a[++n] = val[field, sut, e, i]; return n ? median(a, n) : 0
  }
  function ratios(num, den, e, out,   i, a, n, lo, hi) {  # per-round num/den; "median (min-max)"
    n = 0
    for (i = 1; i <= cnt[num SUBSEP e] && i <= cnt[den SUBSEP e]; i++)
      if (val["rps", den, e, i] > 0) a[++n] = val["rps", num, e, i] / val["rps", den, e, i]
    if (!n) return "n/a"
    lo = a[1]; hi = a[1]; for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
    return (n > 1) ? sprintf("%.2f× (%.2f–%.2f)", median(a, n), lo, hi) : sprintf("%.2f×", a[1])
  }
  { k = $2 SUBSEP $6; i = ++cnt[k]
    val["rps", $2, $6, i] = $7; val["p99", $2, $6, i] = $10; val["srv", $2, $6, i] = $14
    val["wrk", $2, $6, i] = $15; val["oth", $2, $6, i] = $16
    if ($12 + $13 > 0) w = w sprintf("WARNING: %s %s round %d had %d non-2xx/3xx responses or socket errors\n", $2, $6, i, $12 + $13)
    if ($16 > ow && $2 != "static") w = w sprintf("WARNING: %s %s round %d was disturbed: other%% = %s > %s\n", $2, $6, i, $16, ow)
    if (!($6 in seen)) { seen[$6] = 1; order[++n] = $6 } }
  END {
    name["token_cc"] = "token (client_credentials)"
    print "Medians over the rounds; the ratio is taken round by round (median, then min–max)."
    print ""
    print "| endpoint | peer req/s | Guichet req/s | Guichet/peer | peer p99 ms | Guichet p99 ms |"
    print "| --- | ---: | ---: | ---: | ---: | ---: |"
    for (i = 1; i <= n; i++) { e = order[i]
      printf "| %s | %.0f | %.0f | %s | %.2f | %.2f |\n", (e in name ? name[e] : e), med("rps", "peer", e), med("rps", "guichet", e), ratios("guichet", "peer", e), med("p99", "peer", e), med("p99", "guichet", e) }
    print ""
    print "CPU in core-% (100 = one core busy for the run), medians: server, wrk, everything else"
    print ""
    print "| endpoint | peer srv% | peer wrk% | peer other% | Guichet srv% | Guichet wrk% | Guichet other% |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for (i = 1; i <= n; i++) { e = order[i]
      printf "| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", e, med("srv", "peer", e), med("wrk", "peer", e), med("oth", "peer", e), med("srv", "guichet", e), med("wrk", "guichet", e), med("oth", "guichet", e) }
    nref = 0
    for (i = 1; i <= n; i++) { e = order[i]
      for (r = 1; r <= 2; r++) { ref = (r == 1) ? "peer-jwt" : "static"
        if (!cnt[ref SUBSEP e]) continue
        if (nref++ == 0) {
          print ""
          print "References, in the same rounds: the peer issuing ES256 JWT access tokens (peer-jwt),"
          print "and nginx serving the same documents as files (static)"
          print ""
          print "| endpoint | reference | reference req/s | reference/peer | Guichet/reference | reference p99 ms |"
          print "| --- | --- | ---: | ---: | ---: | ---: |"
        }
        printf "| %s | %s | %.0f | %s | %s | %.2f |\n", (e in name ? name[e] : e), ref, med("rps", ref, e), ratios(ref, "peer", e), ratios("guichet", ref, e), med("p99", ref, e) } }
    if (w != "") printf "\n%s", w
  }' "$RESULTS"
