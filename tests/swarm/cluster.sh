# tests/swarm/cluster.sh: a throwaway three-node Docker Swarm on this machine, sourced by
# tests/swarm/run. Three docker:26-dind node containers (privileged, each with its own
# /var/lib/docker volume) and a registry:2 container on one network of their own; node 1 is the
# manager (and the edge node, where nginx publishes), nodes 2 and 3 are workers (2 holds the
# database). Every name starts with $prefix; nothing here touches the host engine's own swarm.
#
# Why Docker-in-Docker: it is the only way to get several Docker engines on one machine, and
# each node is a real engine (its own containers, overlay networks over VXLAN, swarm agent).
# Why a registry: it is how a cluster's nodes get images on real hosts (REGISTRY=).

prefix=${SWARM_TEST_PREFIX:-adstack-swarm-test}
subnet=${SWARM_TEST_SUBNET:-10.213.72.0/24}
# The nodes' swarm address pool, for the overlay networks: Swarm's default, 10.0.0.0/8, would
# overlap this machine's 10.213.x networks.
addr_pool=${SWARM_TEST_ADDR_POOL:-10.214.0.0/16}
nodes=("$prefix-1" "$prefix-2" "$prefix-3")

# Remove everything with this prefix: node containers, the registry, their volumes, the network.
cluster_down() {
  local containers volumes
  containers=$(docker ps -aq --filter "label=adstack.swarm-test=$prefix")
  [ -z "$containers" ] || docker rm --force --volumes $containers >/dev/null
  volumes=$(docker volume ls -q --filter "label=adstack.swarm-test=$prefix")
  [ -z "$volumes" ] || docker volume rm --force $volumes >/dev/null
  docker network rm "$prefix" >/dev/null 2>&1 || true
}

node_docker() {  # node_docker N ARGS...: the docker CLI against node N's engine
  local n=$1; shift
  docker exec "${nodes[n - 1]}" docker "$@"
}

# The manager's engine, for the host's docker CLI (make swarm-up runs with this DOCKER_HOST).
manager_host() {
  echo "tcp://$(docker port "${nodes[0]}" 2375/tcp | head -n 1)"
}

cluster_up() {
  local n deadline
  docker network create --subnet "$subnet" --label "adstack.swarm-test=$prefix" "$prefix" >/dev/null
  docker run --detach --name "$prefix-registry" --network "$prefix" --network-alias registry \
    --label "adstack.swarm-test=$prefix" \
    --mount "type=volume,source=$prefix-registry,target=/var/lib/registry,volume-label=adstack.swarm-test=$prefix" \
    registry:2 >/dev/null
  for n in 1 2 3; do
    # DOCKER_TLS_CERTDIR empty: plain TCP on 2375, on the test network (and 127.0.0.1 for the
    # manager) only. The registry is plain HTTP: insecure-registry names it.
    docker run --detach --privileged --name "${nodes[n - 1]}" --hostname "${nodes[n - 1]}" \
      --network "$prefix" --label "adstack.swarm-test=$prefix" \
      --mount "type=volume,source=${nodes[n - 1]},target=/var/lib/docker,volume-label=adstack.swarm-test=$prefix" \
      $([ "$n" = 1 ] && echo "--publish 127.0.0.1::2375") \
      -e DOCKER_TLS_CERTDIR= docker:26-dind --insecure-registry registry:5000 >/dev/null
  done
  deadline=$((SECONDS + 60))
  for n in 1 2 3; do
    until node_docker "$n" info >/dev/null 2>&1; do
      [ "$SECONDS" -lt "$deadline" ] || { echo "cluster: node $n's engine did not start" >&2; return 1; }
      sleep 1
    done
  done
}

# Node 1 inits the swarm, 2 and 3 join as workers; labels: edge on 1, db on 2.
cluster_swarm() {
  local token n
  node_docker 1 swarm init --advertise-addr eth0 --default-addr-pool "$addr_pool" \
    --default-addr-pool-mask-length 24 >/dev/null || return
  token=$(node_docker 1 swarm join-token --quiet worker) || return
  for n in 2 3; do
    node_docker "$n" swarm join --token "$token" "${nodes[0]}:2377" >/dev/null || return
  done
  node_docker 1 node update --label-add adstack.edge=true "${nodes[0]}" >/dev/null || return
  node_docker 1 node update --label-add adstack.db=true "${nodes[1]}" >/dev/null
}

# Images built on the host reach the manager's engine (docker save | load): no base image or
# build cache is needed on the nodes. make swarm-up then pushes them to the registry, from
# which the other nodes pull.
cluster_load() {
  docker save "$@" | docker -H "$(manager_host)" load >/dev/null
}
