#!/bin/sh
# upstream-servers: the app's servers in nginx's upstream, as an address list
# (/etc/nginx/conf.d/upstream-servers.conf, included by upstream.conf: one
# `server IP:8000 max_fails=0;` line an address), written from the addresses `app` resolves to,
# less the ones being drained.
#
#   upstream-servers write       write the list; exit 0 if it changed (nginx must reload), 1 if not
#   upstream-servers reload      write the list and reload nginx: what `nginx -s reload` did when
#                                the upstream named `app` (make up, after the app has moved)
#   upstream-servers drain IP    leave IP out of the list from now on, and write it (exit: as write)
#   upstream-servers forget IP   stop leaving IP out (its container is gone), and write it (same)
#
# Why a list and not `server app:8000`: nginx resolves a name when it loads its configuration,
# so while a container still runs, its address is in every reload. docker/deploy must take a
# replica out of nginx *before* it stops it: otherwise nginx's workers still hold idle keep-alive
# connections to it when its server closes them on SIGTERM, and a request nginx sends over one
# at that moment is lost (a POST is never replayed: a 502, measured, docs/operations.md).
# The watcher (watch-upstream.sh) and docker/deploy both write through here, under one lock,
# so that the watcher never puts a draining replica back.
#
# When nothing resolves, the list is kept as it is (the app restarting: it comes back, maybe at
# another address); at the first start, it names `app` itself, as the configuration did before
# (nginx does not start until `app` resolves).
set -eu

host=${UPSTREAM_HOST:-app}
port=${UPSTREAM_PORT:-8000}
list=/etc/nginx/conf.d/upstream-servers.conf
# Addresses docker/deploy is draining, one a line (the tmpfs: gone with the container).
drained=/tmp/upstream-drained
lock=/tmp/upstream.lock

addresses() {
  getent ahostsv4 "$host" 2>/dev/null | awk '{ print $1 }' | sort -u | grep -vxF -f "$drained"
}

write() {
  found=$(addresses || true)
  if [ -n "$found" ]; then
    new=$(for address in $found; do echo "server $address:$port max_fails=0;"; done)
  elif [ -e "$list" ]; then
    return 1  # nothing resolves while the app is down: keep the last list until it is back
  else
    new="server $host:$port max_fails=0;"
  fi
  if [ -e "$list" ] && [ "$new" = "$(cat "$list")" ]; then
    return 1
  fi
  printf '%s\n' "$new" >"$list.new"
  mv "$list.new" "$list"
}

touch "$drained"
exec 9>"$lock"
flock 9
case "${1:-}" in
  write) write ;;
  reload)
    write || true
    nginx -s reload
    ;;
  drain)
    echo "${2:?drain: which address?}" >>"$drained"
    write
    ;;
  forget)
    grep -vxF "${2:?forget: which address?}" "$drained" >"$drained.new" || true
    mv "$drained.new" "$drained"
    write
    ;;
  *)
    echo "usage: upstream-servers write | reload | drain IP | forget IP" >&2
    exit 64
    ;;
esac
