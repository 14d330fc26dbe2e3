#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, the mail tests against a real SMTP
# server (Python's aiosmtpd), and the end-to-end tests over real HTTP.
#
# By default the end-to-end tests use SQLite and in-memory sessions. To run them on
# PostgreSQL and Redis, name the servers (each test creates its own database and
# its own Redis key prefix):
#   GUICHET_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
#   GUICHET_TEST_REDIS_URL=redis://127.0.0.1:6379 ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  echo "installing aiosmtpd (the SMTP server the mail tests talk to)" >&2
  python3 -m pip install --quiet aiosmtpd
fi

exec cargo test --workspace "$@"
