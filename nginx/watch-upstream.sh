#!/bin/sh
# Write the app's address list (upstream-servers), then reload nginx whenever the addresses of the
# app change (run by the image's entrypoint, from /docker-entrypoint.d/, before nginx starts;
# the loop stays in the background).
#
# nginx's upstream lists the app's addresses (upstream-servers.sh says why not its name), and
# open-source nginx before 1.27.3 cannot re-resolve them by itself anyway. A restarted app
# container may get another address (the engine's restart after a crash does not keep it), and
# `docker compose up --scale` adds replicas: without a reload nginx would keep sending to an
# address that no longer exists. A reload is graceful: requests in flight finish. docker/deploy
# writes the list through the same script, so that a change is reloaded once: every reload
# closes the clients' idle keep-alive connections.
set -eu

interval=${UPSTREAM_WATCH_SECONDS:-2}

upstream-servers write || true
(
  while sleep "$interval"; do
    if upstream-servers write; then
      now=$(sed -E 's/^server ([^ ]+) .*/\1/' /etc/nginx/conf.d/upstream-servers.conf | tr '\n' ' ')
      echo "watch-upstream: ${UPSTREAM_HOST:-app} is now at $now(reloading)" >&2
      nginx -s reload || true
    fi
  done
) &
