#!/usr/bin/env bash
# faults-backends.sh - the backend scenarios of the fault suite: PostgreSQL
# stopped and started again, Redis restarted. `scripts/faults.sh` starts the
# fleet (PostgreSQL, Redis, nginx with deploy/nginx.conf, three replicas)
# and calls this with the variables below exported; it can also be run by
# hand against any fleet whose backends it may stop.
#
# Environment (required)
#   FAULTS_NGINX_URL       the fleet through nginx, e.g. http://127.0.0.1:18080
#   FAULTS_REPLICAS        the replicas' own URLs, space-separated
#   FAULTS_PG_CTL_STOP     a command that stops the suite's own PostgreSQL
#   FAULTS_PG_CTL_START    a command that starts it again (and waits for it)
#   FAULTS_REDIS_STOP      a command that stops the suite's own Redis
#   FAULTS_REDIS_START     a command that starts it again (and waits for it)
# Environment (optional)
#   FAULTS_CLIENT_ID, FAULTS_CLIENT_SECRET
#                          a confidential client with client_credentials; made
#                          through the operator API when unset
#   FAULTS_OPERATOR_URL, FAULTS_OPERATOR_TOKEN
#                          the operator API of one replica and a token, to make
#                          that client
#   FAULTS_REPORT          a file the figures are appended to, as Markdown
#   FAULTS_REDIS_LOAD_SECS how long requests run after Redis is back [5]
#
# Exit status: 0 when every scenario held, 1 otherwise (each failure is named
# on stderr). Never stops anything but what the FAULTS_* commands stop.
#
# Needs: curl, jq.
set -uo pipefail

die() { echo "faults-backends.sh: $*" >&2; exit 2; }
for v in FAULTS_NGINX_URL FAULTS_REPLICAS FAULTS_PG_CTL_STOP FAULTS_PG_CTL_START \
         FAULTS_REDIS_STOP FAULTS_REDIS_START; do
  [[ -n "${!v:-}" ]] || die "$v is not set (see the head of this script)"
done
command -v curl >/dev/null || die "missing curl (apt-get install -y curl)"
command -v jq >/dev/null || die "missing jq (apt-get install -y jq)"

REPORT="${FAULTS_REPORT:-/dev/null}"
LOAD_SECS="${FAULTS_REDIS_LOAD_SECS:-5}"
# Not WORK: faults.sh exports WORK, and its pg_start and redis_start put
# their sockets there.
SCRATCH="$(mktemp -d -t guichet-faults-backends.XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT
FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=1; }
say() { echo "$*"; echo "$*" >>"$REPORT"; }
now_ms() { date +%s%3N; }

# One request: prints "status seconds"; the body goes to $SCRATCH/body.
probe() {
  curl -s -o "$SCRATCH/body" -D "$SCRATCH/headers" -w '%{http_code} %{time_total}' \
    --max-time 10 "$@" || echo "000 10"
}

# A confidential client_credentials client, when none was given.
if [[ -z "${FAULTS_CLIENT_ID:-}" ]]; then
  [[ -n "${FAULTS_OPERATOR_URL:-}" && -n "${FAULTS_OPERATOR_TOKEN:-}" ]] ||
    die "set FAULTS_CLIENT_ID/FAULTS_CLIENT_SECRET or FAULTS_OPERATOR_URL/FAULTS_OPERATOR_TOKEN"
  made=$(curl -sf -X POST "$FAULTS_OPERATOR_URL/admin/v1/clients" \
    -H "authorization: Bearer $FAULTS_OPERATOR_TOKEN" -H 'content-type: application/json' \
    -d '{"name":"faults-backends","grant_types":["client_credentials"],"scopes":["api"]}') ||
    die "cannot create a client through the operator API"
  FAULTS_CLIENT_ID=$(jq -r .client_id <<<"$made")
  FAULTS_CLIENT_SECRET=$(jq -r .client_secret <<<"$made")
fi
CC=(-u "$FAULTS_CLIENT_ID:$FAULTS_CLIENT_SECRET" -d grant_type=client_credentials)

first_replica=${FAULTS_REPLICAS%% *}
token=$(curl -sf "${CC[@]}" "$FAULTS_NGINX_URL/oauth2/token" | jq -r .access_token) ||
  die "no client_credentials token before the faults: is the fleet up?"

# A visitor with the forgotten-password form open, per base URL.
open_form() { # base jar
  curl -s -c "$2" -b "$2" "$1/forgot-password" |
    sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1
}

say ""
say "### Backend faults, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -sr)"
say ""

# ---------------------------------------------------------------------------
# 1. PostgreSQL stopped: every endpoint 503 in under 1 s, JWKS and discovery
#    200, and no "sent" for a mail that cannot be queued.
declare -A CSRF
i=0
for base in $FAULTS_REPLICAS $FAULTS_NGINX_URL; do
  CSRF[$base]=$(open_form "$base" "$SCRATCH/jar$i"); i=$((i + 1))
done

eval "$FAULTS_PG_CTL_STOP" >"$SCRATCH/ctl.log" 2>&1 || { cat "$SCRATCH/ctl.log" >&2; die "FAULTS_PG_CTL_STOP failed"; }
stopped=$(now_ms)
# Each replica notices within a second, without traffic (readiness).
for base in $FAULTS_REPLICAS; do
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/readyz") == 503 ]]; do
    (( $(now_ms) - stopped > 1000 )) && { fail "$base still ready 1 s after PostgreSQL stopped"; break; }
    sleep 0.02
  done
done
noticed=$(( $(now_ms) - stopped ))
say "PostgreSQL stopped; every replica not ready ${noticed} ms later. Every request below was sent after that:"
say ""
say "| target | request | status | seconds |"
say "|---|---|---|---|"
worst=0
i=0
for base in $FAULTS_REPLICAS $FAULTS_NGINX_URL; do
  jar="$SCRATCH/jar$i"; i=$((i + 1))
  label=$base; [[ $base == "$FAULTS_NGINX_URL" ]] && label="nginx"
  authorize="$base/oauth2/authorize?response_type=code&client_id=$FAULTS_CLIENT_ID&redirect_uri=https%3A%2F%2Frp.example.com%2Fcb&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
  while IFS='|' read -r name want args; do
    eval "set -- $args"
    read -r status secs < <(probe "$@")
    say "| $label | $name | $status | $secs |"
    if [[ " $want " != *" $status "* ]]; then
      fail "$label $name answered $status during the outage, wanted $want"
    fi
    if awk -v s="$secs" 'BEGIN { exit !(s >= 1.0) }'; then
      fail "$label $name took ${secs}s during the outage"
    fi
    worst=$(awk -v a="$worst" -v b="$secs" 'BEGIN { print (b > a) ? b : a }')
    if [[ $name == "POST /forgot-password" ]] && grep -qi '^location:.*sent=1' "$SCRATCH/headers"; then
      fail "$label said \"sent\" for a mail it could not queue"
    fi
    if [[ $want == 503 && $name != "GET /readyz" ]] && ! grep -qi '^retry-after:' "$SCRATCH/headers"; then
      fail "$label $name: 503 without Retry-After"
    fi
  done <<EOF
GET /oauth2/authorize|503|"$authorize"
GET /login|503|"$base/login"
POST /api/v1/signup|503|-H 'content-type: application/json' -d '{"first_name":"Panne","last_name":"Base","primary_email":"panne@example.com","password":"amber lighthouse in mist","password_confirm":"amber lighthouse in mist","country":"FR","language":"fr","kind":"individual"}' "$base/api/v1/signup"
POST /oauth2/token|503|${CC[*]@Q} "$base/oauth2/token"
POST /oauth2/introspect|503|-u "$FAULTS_CLIENT_ID:$FAULTS_CLIENT_SECRET" -d token=$token "$base/oauth2/introspect"
POST /forgot-password|503|-b "$jar" -c "$jar" -d "csrf=${CSRF[$base]}&identifier=someone@example.com" "$base/forgot-password"
GET /readyz|503|"$base/readyz"
GET /oauth2/jwks|200|"$base/oauth2/jwks"
GET /.well-known/openid-configuration|200|"$base/.well-known/openid-configuration"
EOF
done
say ""
say "Slowest answer during the outage: ${worst} s."

# ---------------------------------------------------------------------------
# 2. PostgreSQL back: every replica ready, and a token issued, within 5 s.
eval "$FAULTS_PG_CTL_START" >"$SCRATCH/ctl.log" 2>&1 || { cat "$SCRATCH/ctl.log" >&2; die "FAULTS_PG_CTL_START failed"; }
back=$(now_ms)
for base in $FAULTS_REPLICAS; do
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/readyz") == 200 ]]; do
    (( $(now_ms) - back > 5000 )) && { fail "$base not ready 5 s after PostgreSQL came back"; break; }
    sleep 0.05
  done
done
until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${CC[@]}" "$FAULTS_NGINX_URL/oauth2/token") == 200 ]]; do
  (( $(now_ms) - back > 5000 )) && { fail "no token through nginx 5 s after PostgreSQL came back"; break; }
  sleep 0.05
done
recovered=$(( $(now_ms) - back ))
say ""
say "PostgreSQL was down $(( back - stopped )) ms; every replica ready and a token issued through nginx ${recovered} ms after it was back."

# ---------------------------------------------------------------------------
# 3. Redis restarted: once it is back, no request fails.
#    Introspection reads the revocation entries in Redis on every request.
load() { # base out; each line: when the request was sent (ms), its status
  while [[ ! -f "$SCRATCH/stop" ]]; do
    printf '%s %s\n' "$(now_ms)" \
      "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
          -u "$FAULTS_CLIENT_ID:$FAULTS_CLIENT_SECRET" -d "token=$token" "$1/oauth2/introspect")" >>"$2"
  done
}
rm -f "$SCRATCH/stop"
pids=()
i=0
for base in $FAULTS_REPLICAS $FAULTS_NGINX_URL; do
  load "$base" "$SCRATCH/redis$i.log" & pids+=($!); i=$((i + 1))
done
sleep 1
eval "$FAULTS_REDIS_STOP" >/dev/null 2>&1 || fail "FAULTS_REDIS_STOP failed"
sleep 1
eval "$FAULTS_REDIS_START" >/dev/null 2>&1 || fail "FAULTS_REDIS_START failed"
redis_back=$(now_ms)
sleep "$LOAD_SECS"
touch "$SCRATCH/stop"
for p in "${pids[@]}"; do wait "$p"; done
total=0; after=0; failed_after=0; failed_during=0
for f in "$SCRATCH"/redis*.log; do
  while read -r t s; do
    total=$((total + 1))
    if (( t >= redis_back )); then
      after=$((after + 1)); [[ $s == 200 ]] || failed_after=$((failed_after + 1))
    else
      [[ $s == 200 ]] || failed_during=$((failed_during + 1))
    fi
  done <"$f"
done
say ""
say "Redis restarted under introspection load on every replica and through nginx: $total requests, $failed_during not 200 while it was down (503 expected), $after sent after it was back of which $failed_after failed."
(( failed_after == 0 )) || fail "$failed_after requests failed after Redis was back"
(( after > 0 )) || fail "no request was sent after Redis was back"

exit "$FAILED"
