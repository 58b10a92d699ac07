#!/usr/bin/env bash
# Make sure the local services the test suite talks to are up: PostgreSQL on
# 127.0.0.1:5432. (The SeaweedFS S3 server is started by the test fixtures themselves.)
set -uo pipefail
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if command -v pg_isready >/dev/null && ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ "$(id -u)" -eq 0 ]; then
    for v in /etc/postgresql/*; do
      [ -d "$v" ] && pg_ctlcluster --skip-systemctl-redirect "$(basename "$v")" main start || true
    done
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || echo "warning: PostgreSQL is not reachable on 127.0.0.1:5432" >&2
fi
exit 0
