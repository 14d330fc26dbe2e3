#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, the mail tests against a real SMTP
# server (Python's aiosmtpd), the end-to-end tests over real HTTP, and the
# browser tests in a real headless Chromium (screenshots in target/screenshots/).
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

# The browser tests drive Debian's Chromium through its ChromeDriver.
if ! command -v chromedriver >/dev/null 2>&1 || ! [ -x /usr/bin/chromium ]; then
  echo "installing chromium and chromium-driver (the browser tests drive them)" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi

exec cargo test --workspace "$@"
