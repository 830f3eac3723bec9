# docker/swarm/lib.sh: what docker/swarm/up, down and ops share (sourced).

stack=${SWARM_STACK:-adstack}
say() { printf 'swarm: %s\n' "$*"; }
die() { printf 'swarm: %s\n' "$*" >&2; exit 1; }

# `docker stack deploy` reads no .env: its values are exported here, below what the caller's
# environment already sets (as Compose does). Lines are NAME=value, as .env.example writes them.
load_env() {
  local file=${1:-.env} name value
  [ -f "$file" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    name=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    [ -n "${!name+set}" ] || export "$name=$value"
  done <"$file"
}

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

# A running container of SERVICE on this engine's node, if there is one.
local_task() {
  docker ps --quiet --filter "label=com.docker.swarm.service.name=${stack}_$1" \
    --filter health=healthy | head -n 1
}
