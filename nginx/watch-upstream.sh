#!/bin/sh
# Reload nginx when the addresses of the app change (run by the image's entrypoint, from
# /docker-entrypoint.d/, before nginx starts; the loop stays in the background).
#
# nginx resolves `app` when it loads its configuration, and open-source nginx before 1.27.3
# cannot re-resolve the servers of an upstream with keep-alive connections. A restarted app
# container may get another address (the engine's restart after a crash does not keep it), and
# `docker compose up --scale` adds replicas: without a reload nginx would keep sending to an
# address that no longer exists. A reload is graceful: requests in flight finish.
set -eu

host=${UPSTREAM_HOST:-app}
interval=${UPSTREAM_WATCH_SECONDS:-2}
# The addresses nginx last loaded. docker/deploy, which reloads nginx itself, writes it too, so
# that a change is reloaded once: every reload closes the clients' idle keep-alive connections.
state=/tmp/upstream-addresses

addresses() { getent ahostsv4 "$host" 2>/dev/null | awk '{ print $1 }' | sort -u | tr '\n' ' '; }

addresses >"$state"
(
  while sleep "$interval"; do
    now=$(addresses)
    last=$(cat "$state" 2>/dev/null || true)
    # Nothing resolves while the app is down: keep the last addresses until it is back.
    if [ -n "$now" ] && [ "$now" != "$last" ]; then
      echo "watch-upstream: $host is now at $now(was ${last:-unresolved}): reloading" >&2
      printf '%s' "$now" >"$state"
      nginx -s reload || true
    fi
  done
) &
