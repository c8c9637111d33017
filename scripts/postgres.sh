#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, from Debian's `postgresql` package (scripts/prereqs.sh installs it).
#   scripts/postgres.sh start DIR   initdb into DIR/data, start on 127.0.0.1 on a free port, print the URL (postgres://…)
#   scripts/postgres.sh stop DIR    stop that server (fast shutdown) and remove DIR
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (runuser); as anyone else it
# runs as that user. Durability is off (fsync, synchronous_commit, full_page_writes): the data dies with the test run.
# The database user is `dockhand` with password `dockhand`, the superuser of this cluster only (tests create a
# database per test class). Used by scripts/test.sh and, when DOCKHAND_TEST_POSTGRES_URL is unset, by the test fixture.
set -euo pipefail

action="${1:-}"
dir="${2:-}"
if [ -z "$action" ] || [ -z "$dir" ]; then
  echo "usage: scripts/postgres.sh start|stop DIR" >&2
  exit 2
fi

bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "postgres: no PostgreSQL server found under /usr/lib/postgresql; run scripts/prereqs.sh postgresql (Debian's postgresql package)" >&2
  exit 2
fi

as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  as_owner=(runuser -u postgres --)
fi

case "$action" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir" && chmod 700 "$dir"
    printf 'dockhand\n' > "$dir/.pwfile.tmp"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/.pwfile.tmp"
    "${as_owner[@]}" "$bin/initdb" --pgdata="$dir/data" --username=dockhand --pwfile="$dir/.pwfile.tmp" \
      --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 2; }
    rm -f "$dir/.pwfile.tmp"
    # A free port: ask the kernel for one, then give it to the server (a race with another process is possible but
    # only costs a failed start, reported below).
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
      || shuf -i 20000-60000 -n 1)"
    "${as_owner[@]}" "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null \
      || { echo "postgres: the server did not start; its log:" >&2; cat "$dir/server.log" >&2; exit 2; }
    echo "postgres://dockhand:dockhand@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      "${as_owner[@]}" "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: scripts/postgres.sh start|stop DIR" >&2
    exit 2
    ;;
esac
