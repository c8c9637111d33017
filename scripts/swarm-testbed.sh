#!/usr/bin/env bash
# A three-node Docker Swarm on this one machine, for the Swarm backend's tests (issue 17 §2).
#
#   scripts/swarm-testbed.sh up     start it (idempotent: a test bed that answers is left as it is; a broken one is
#                                   taken down and started again)
#   scripts/swarm-testbed.sh down   remove everything `up` made, and nothing else (safe after a crash: it works from the
#                                   state file and from what it finds under the state directory)
#   scripts/swarm-testbed.sh env    print the settings a Dockhand process or a test needs (DOCKER_HOST of the manager,
#                                   SWARM_NODE_ENDPOINTS), as `export` lines
#   scripts/swarm-testbed.sh crash-node NODE   SIGKILL a node's dockerd, its containerd and its containers (a machine
#                                   that died); its data root stays
#   scripts/swarm-testbed.sh start-node NODE   start that node's dockerd again and wait until it answers
#
# Each node is a dockerd of its own: its own network namespace (a veth into a bridge this script creates, on
# 10.213.0.0/24), its own UTS namespace (so each node has its own hostname: Swarm places by node.hostname), and its own
# data root, exec root, pid file and unix socket, all under one state directory. Netfilter state is per
# network namespace, so the nodes' iptables chains (which Swarm's overlay and ingress need) never touch the host's; the
# host's dockerd and its containers keep working (`up` checks that no host rule names the test bed,
# apart from one ACCEPT for the bridge, see start_network).
# The manager is drained (a dedicated manager, as in production), so every task lands on one of the two workers.
# Every node runs with "no-new-privileges": true in its daemon.json: API 1.41 service specs cannot ask for it, and
# Dockhand's Swarm backend refuses to start unless the daemon enforces it (issue 17 §1).
set -euo pipefail

state_dir="${DOCKHAND_SWARM_STATE:-/tmp/dockhand-swarm}"
state_file="$state_dir/testbed.state"
bridge=dhswarm0
subnet_prefix=10.213.0
bridge_ip="$subnet_prefix.1"
nodes=(manager worker-1 worker-2)
images=(dockhand-test/busybox:1 dockhand-test/debian-bash:bookworm)

rule_comment=dockhand-swarm-testbed
forward_chain() { if iptables -L DOCKER-USER -n >/dev/null 2>&1; then echo DOCKER-USER; else echo FORWARD; fi; }
node_ip() { case "$1" in manager) echo "$subnet_prefix.11" ;; worker-1) echo "$subnet_prefix.12" ;; worker-2) echo "$subnet_prefix.13" ;; esac; }
node_hostname() { echo "dockhand-swarm-$1"; }
node_netns() { echo "dhswarm-$1"; }
node_veth() { echo "dhsw-$1" | cut -c1-15; }
node_dir() { echo "$state_dir/$1"; }
node_socket() { echo "$(node_dir "$1")/docker.sock"; }
node_docker() { local node=$1; shift; docker -H "unix://$(node_socket "$node")" "$@"; }
node_answers() { curl -sf --max-time 2 --unix-socket "$(node_socket "$1")" http://localhost/_ping >/dev/null 2>&1; }

log() { echo "swarm-testbed: $*" >&2; }

# Waits for a condition (a command) for up to $1 seconds, polling every 0.1 s.
wait_for() {
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

check_prerequisites() {
  local missing=()
  for command in ip dockerd docker curl unshare nsenter mountpoint openssl iptables-save; do
    command -v "$command" >/dev/null 2>&1 || missing+=("$command")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "missing ${missing[*]}; run scripts/prereqs.sh iproute2 (and scripts/engine.sh for dockerd)"
    exit 2
  fi
  [ "$(id -u)" -eq 0 ] || { log "needs root (network namespaces, a bridge and three dockerd daemons)"; exit 2; }
}

check_subnet_is_free() {
  # Our own bridge carries the subnet once we are up; anything else on it is someone else's.
  if ip -4 route show | grep -v "dev $bridge" | grep -q "^$subnet_prefix\.\|^10\.213\.0\.0/"; then
    log "10.213.0.0/24 is already routed on this machine (ip route); the test bed would collide with it"
    exit 2
  fi
}

# --- up ---------------------------------------------------------------------------------------------------------------

record() { echo "$1" >> "$state_file"; }

start_network() {
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    record "bridge $bridge"
    ip addr add "$bridge_ip/24" dev "$bridge"
  fi
  ip link set "$bridge" up
  # With br_netfilter loaded, frames crossing a bridge go through the host's FORWARD chain, whose policy the host's
  # dockerd sets to DROP: the nodes could not reach each other. One ACCEPT for traffic that stays on our bridge, in
  # DOCKER-USER (the chain dockerd leaves to the operator and never flushes), or in FORWARD when there is none.
  if ! iptables -C "$(forward_chain)" -i "$bridge" -o "$bridge" -m comment --comment "$rule_comment" -j ACCEPT 2>/dev/null; then
    iptables -I "$(forward_chain)" -i "$bridge" -o "$bridge" -m comment --comment "$rule_comment" -j ACCEPT
    record "iptables $(forward_chain)"
  fi
  local node netns veth
  for node in "${nodes[@]}"; do
    netns=$(node_netns "$node"); veth=$(node_veth "$node")
    if ! ip netns list | grep -qw "$netns"; then
      ip netns add "$netns"
      record "netns $netns"
    fi
    if ! ip link show "$veth" >/dev/null 2>&1; then
      ip link add "$veth" type veth peer name eth0 netns "$netns"
      record "veth $veth"
    fi
    ip link set "$veth" master "$bridge" up
    ip -n "$netns" link set lo up
    ip -n "$netns" addr replace "$(node_ip "$node")/24" dev eth0
    ip -n "$netns" link set eth0 up
    ip -n "$netns" route replace default via "$bridge_ip"
  done
}

# A CA, a server certificate for worker-2's tcp:// listener (10.213.0.13:2376) and a client certificate, in Docker's
# usual layout (ca.pem, cert.pem, key.pem in $state_dir/tls/client), so the backend's TLS path is tested for real.
make_tls() {
  local tls="$state_dir/tls" ip
  ip=$(node_ip worker-2)
  mkdir -p "$tls/client"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj "/CN=dockhand-swarm-testbed-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj "/CN=$ip" 2>/dev/null
    printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$ip" > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 2 -extfile server.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout client/key.pem -out client.csr -subj "/CN=dockhand" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client/cert.pem -days 2 -extfile client.ext 2>/dev/null
    cp ca.pem client/ca.pem
  )
}

start_daemon() {
  local node=$1 dir
  dir=$(node_dir "$node")
  mkdir -p "$dir/data" "$dir/exec"
  local tcp=()
  if [ "$node" = worker-2 ]; then
    tcp=(--host "tcp://$(node_ip worker-2):2376" --tlsverify --tlscacert "$state_dir/tls/ca.pem"
      --tlscert "$state_dir/tls/server-cert.pem" --tlskey "$state_dir/tls/server-key.pem")
  fi
  cat > "$dir/daemon.json" <<JSON
{
  "no-new-privileges": true,
  "cgroup-parent": "dockhand-swarm-$node",
  "shutdown-timeout": 2,
  "log-driver": "json-file",
  "log-opts": { "max-size": "1m" }
}
JSON
  # setsid: the daemon outlives this script. nsenter --net rather than `ip netns exec`, which remounts /sys and so
  # hides the cgroup mounts dockerd needs ("Devices cgroup isn't mounted"). unshare --mount: the daemon's mounts
  # (container root filesystems) stay in its own mount namespace and vanish with it; --uts: its own hostname, which
  # Swarm reports as node.hostname.
  # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1: a node runs a task from the image it holds instead of first trying to pull
  # it (there is no registry here; each attempt costs a ~20 s DNS timeout before the task starts).
  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid nsenter --net="/run/netns/$(node_netns "$node")" unshare --mount --propagation slave --uts sh -c '
      hostname "$1"; shift; exec "$@"' sh "$(node_hostname "$node")" \
    dockerd --config-file "$dir/daemon.json" \
      --host "unix://$(node_socket "$node")" "${tcp[@]}" \
      --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
      >"$dir/dockerd.log" 2>&1 < /dev/null &
  record "daemon $node"
}

load_images() {
  local archive="$state_dir/images.tar" node pids=()
  docker save -o "$archive" "${images[@]}"
  # Workers only: the manager is drained and never runs a task, and each load of the Debian image costs seconds.
  for node in worker-1 worker-2; do
    node_docker "$node" load -q -i "$archive" >/dev/null &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  rm -f "$archive"
}

swarm_state() { node_docker "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || true; }

form_swarm() {
  local manager_ip token node
  manager_ip=$(node_ip manager)
  if [ "$(swarm_state manager)" != active ]; then
    node_docker manager swarm init --advertise-addr "$manager_ip" --listen-addr "$manager_ip:2377" >/dev/null
  fi
  token=$(node_docker manager swarm join-token -q worker)
  for node in worker-1 worker-2; do
    if [ "$(swarm_state "$node")" != active ]; then
      node_docker "$node" swarm join --advertise-addr "$(node_ip "$node")" --token "$token" "$manager_ip:2377" >/dev/null
    fi
  done
  node_docker manager node update --availability drain "$(node_hostname manager)" >/dev/null
  # Heartbeats every second (the default is 5 s): a node that dies is marked down within a few seconds, which keeps the
  # node-down tests short. Production keeps Docker's default.
  node_docker manager swarm update --dispatcher-heartbeat 1s >/dev/null
  # Ready = the manager sees both workers Ready and active.
  workers_ready() {
    [ "$(node_docker manager node ls --filter role=worker --format '{{.Status}} {{.Availability}}' | grep -c '^Ready Active$')" -eq 2 ]
  }
  wait_for 60 workers_ready || { log "the workers did not become Ready within 60 s; see $state_dir/*/dockerd.log"; exit 1; }
}

# Host rules that name our bridge, veths or subnet, apart from our own ACCEPT. (Comparing the whole rule set before and
# after would be wrong: the host's dockerd adds and removes rules for other people's containers all the time.)
leaked_rules() { iptables-save | grep -v -- "$rule_comment" | grep -E "$bridge|dhsw-|10\.213\." || true; }

is_up() {
  [ -f "$state_file" ] || return 1
  [ -f "$state_dir/tls/client/cert.pem" ] || return 1
  local node
  for node in "${nodes[@]}"; do
    node_answers "$node" || return 1
    [ "$(swarm_state "$node")" = active ] || return 1
  done
  for image in "${images[@]}"; do
    node_docker worker-1 image inspect "$image" >/dev/null 2>&1 || return 1
  done
}

up() {
  check_prerequisites
  if is_up; then
    log "already up (state in $state_dir)"
    return 0
  fi
  if [ -f "$state_file" ]; then log "a test bed from an earlier run does not answer; taking it down first"; down; fi
  check_subnet_is_free
  for image in "${images[@]}"; do
    docker image inspect "$image" >/dev/null 2>&1 || { log "image $image is missing on the host; run scripts/test-images.sh"; exit 2; }
  done
  local node
  mkdir -p "$state_dir"
  # On tmpfs: loading the images into three data roots, and above all deleting them again, took a minute on this
  # machine's shared disk (`rm -rf` of ~1 GB of layers under load); on tmpfs both are instant, and `down` is an umount.
  # The size is a ceiling, not a reservation.
  if ! mountpoint -q "$state_dir"; then mount -t tmpfs -o size=4g,mode=0755 dockhand-swarm "$state_dir"; fi
  : > "$state_file"
  record "dir $state_dir"
  start_network
  make_tls
  for node in "${nodes[@]}"; do start_daemon "$node"; done
  for node in "${nodes[@]}"; do
    wait_for 60 node_answers "$node" || { log "dockerd of $node did not answer within 60 s; see $(node_dir "$node")/dockerd.log"; exit 1; }
  done
  log "daemons answer (${SECONDS}s)"
  load_images
  log "images loaded (${SECONDS}s)"
  form_swarm
  if [ -n "$(leaked_rules)" ]; then
    log "the host's iptables rules name the test bed's bridge or subnet beyond our one ACCEPT; this should not happen (each node has its own network namespace):"
    leaked_rules >&2
    exit 1
  fi
  log "up in ${SECONDS}s: manager $(node_ip manager), workers $(node_ip worker-1) $(node_ip worker-2); state in $state_dir"
}

# --- down -------------------------------------------------------------------------------------------------------------

# Processes whose command line names the state directory: our dockerd, its containerd and the containers' shims.
# Found by pid, never by a process name shared with the host's engine.
own_pids() {
  grep -las -- "$state_dir/" /proc/[0-9]*/cmdline | awk -F/ -v self="$$" '$3 != self { print $3 }' || true
}

# Stops one node's dockerd. No `swarm leave`: the whole swarm goes, and a worker's leave only waits on a manager that is
# going too. dockerd stops its containers as it shuts down ("shutdown-timeout" in its daemon.json).
stop_daemon() {
  local node=$1 dir pid
  dir=$(node_dir "$node")
  [ -f "$dir/docker.pid" ] || return 0
  pid=$(cat "$dir/docker.pid")
  # Only a process that is still this node's dockerd (a stale pid file may name a recycled pid).
  [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$dir/" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  gone() { ! kill -0 "$pid" 2>/dev/null; }
  wait_for 20 gone || kill -KILL "$pid" 2>/dev/null || true
}

# Processes left in the nodes' cgroups (containers of a daemon that was SIGKILLed), then the cgroups themselves.
kill_container_processes() {
  local node group pid
  for node in "${nodes[@]}"; do
    for group in /sys/fs/cgroup/*/"dockhand-swarm-$node"; do
      [ -d "$group" ] || continue
      for pid in $(find "$group" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    done
  done
  for node in "${nodes[@]}"; do
    for group in /sys/fs/cgroup/*/"dockhand-swarm-$node"; do
      [ -d "$group" ] || continue
      find "$group" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
  done
}

down() {
  check_prerequisites
  local node pid netns veth
  if [ -d "$state_dir" ]; then
    for node in "${nodes[@]}"; do stop_daemon "$node" & done
    wait
    # Whatever is left (a containerd or a shim of a daemon that was SIGKILLed): by pid.
    for pid in $(own_pids); do kill -KILL "$pid" 2>/dev/null || true; done
    kill_container_processes
  fi
  for node in "${nodes[@]}"; do
    netns=$(node_netns "$node"); veth=$(node_veth "$node")
    ip link del "$veth" 2>/dev/null || true
    if ip netns list | grep -qw "$netns"; then ip netns del "$netns"; fi
  done
  if ip link show "$bridge" >/dev/null 2>&1; then ip link del "$bridge"; fi
  local chain
  for chain in DOCKER-USER FORWARD; do
    while iptables -D "$chain" -i "$bridge" -o "$bridge" -m comment --comment "$rule_comment" -j ACCEPT 2>/dev/null; do :; done
  done
  if [ -d "$state_dir" ]; then
    # Mounts the daemons made in the host's mount namespace (normally none: `ip netns exec` gives them their own).
    local mounts
    mounts=$(awk -v dir="$state_dir/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r)
    for mount in $mounts; do umount -l "$mount" || true; done
    if mountpoint -q "$state_dir"; then umount -l "$state_dir"; fi
    rm -rf "$state_dir"
  fi
  log "down in ${SECONDS}s"
}

env_lines() {
  [ -f "$state_file" ] || { log "not up; run scripts/swarm-testbed.sh up"; exit 1; }
  local endpoints=() node
  for node in "${nodes[@]}"; do endpoints+=("$(node_hostname "$node")=unix://$(node_socket "$node")"); done
  echo "export CONTAINER_BACKEND=swarm"
  echo "export DOCKER_HOST=unix://$(node_socket manager)"
  echo "export SWARM_NODE_ENDPOINTS=$(IFS=,; echo "${endpoints[*]}")"
  echo "# worker-2 also listens on tcp://$(node_ip worker-2):2376 with TLS; its client certificate is in:"
  echo "export SWARM_TLS_CERT_PATH=$state_dir/tls/client"
}

# One node's processes, as a machine that died would lose them: its dockerd, containerd and shims (found by their
# command line naming the node's directory, never by name) and what is left in its cgroup.
crash_node() {
  local node=$1 dir pid group
  case "$node" in worker-1|worker-2) ;; *) log "crash-node: NODE is worker-1 or worker-2"; exit 2 ;; esac
  dir=$(node_dir "$node")
  for pid in $(grep -las -- "$dir/" /proc/[0-9]*/cmdline | awk -F/ -v self="$$" '$3 != self { print $3 }'); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  for group in /sys/fs/cgroup/*/"dockhand-swarm-$node"; do
    [ -d "$group" ] || continue
    for pid in $(find "$group" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  gone() { ! node_answers "$node"; }
  wait_for 20 gone || { log "dockerd of $node still answers"; exit 1; }
  log "crashed $node"
}

start_node() {
  local node=$1
  case "$node" in worker-1|worker-2) ;; *) log "start-node: NODE is worker-1 or worker-2"; exit 2 ;; esac
  [ -f "$state_file" ] || { log "not up; run scripts/swarm-testbed.sh up"; exit 1; }
  node_answers "$node" && return 0
  # The killed daemon's pid files go too: dockerd trusts containerd.pid, and if another process has taken that pid
  # since the crash, it waits for a containerd that is not there instead of starting its own.
  rm -f "$(node_dir "$node")/docker.pid" "$(node_dir "$node")/exec/containerd/containerd.pid"
  start_daemon "$node"
  if ! wait_for 90 node_answers "$node"; then
    log "dockerd of $node did not answer within 90 s; the end of $(node_dir "$node")/dockerd.log:"
    tail -n 25 "$(node_dir "$node")/dockerd.log" >&2 || true
    exit 1
  fi
  log "started $node"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) env_lines ;;
  crash-node) crash_node "${2:-}" ;;
  start-node) start_node "${2:-}" ;;
  *) echo "usage: $0 up|down|env|crash-node NODE|start-node NODE" >&2; exit 2 ;;
esac
