# A local registry for scripts and benches (sourced, not run).
#
# start_registry_in DIR: starts Debian's docker-registry (the distribution
# server), plain HTTP on a free 127.0.0.1 port, storing in DIR/data, its
# pid in DIR/pid and its log in DIR/log; prints HOST:PORT once it
# listens. Callers kill the pid in DIR/pid when done. Fails naming the
# package when docker-registry is missing.
start_registry_in() {
    local dir="$1" port
    command -v docker-registry >/dev/null ||
        { echo "docker-registry not found: apt-get install docker-registry (scripts/setup.sh installs it)" >&2; return 2; }
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    mkdir -p "$dir/data"
    cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    for _ in $(seq 200); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; then
            echo "127.0.0.1:$port"
            return 0
        fi
        sleep 0.05
    done
    echo "the registry in $dir did not listen on $port: $(cat "$dir/log")" >&2
    return 1
}
