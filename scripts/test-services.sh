#!/usr/bin/env bash
# Make sure the local services the test suite talks to are up: PostgreSQL on
# 127.0.0.1:5432 and Redis on 127.0.0.1:6379. (The SeaweedFS S3 server is started by the
# test fixtures themselves.)
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
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if command -v redis-cli >/dev/null && ! redis_up; then
  if command -v redis-server >/dev/null; then
    mkdir -p /tmp/edms-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/edms-redis --logfile /tmp/edms-redis/redis.log || true
    for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  fi
  redis_up || echo "warning: Redis is not reachable on 127.0.0.1:6379" >&2
fi
exit 0
