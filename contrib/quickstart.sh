#!/bin/sh
# contrib/quickstart.sh: install what is missing, build, start a local
# 3-node hamlet cluster on 127.0.0.1 (gossip 7946/7947/7948, RPC
# 7373/7374/7375), join the nodes and show `core/hamlet members`.
#
#   sh contrib/quickstart.sh         start (or restart) the cluster
#   sh contrib/quickstart.sh stop    stop it (graceful leave)
#
# Logs and pids are kept in $HAMLET_QS (default /tmp/hamlet-quickstart).
set -u
cd "$(dirname "$0")/.." || exit 1
. contrib/deps.sh
QS=${HAMLET_QS:-/tmp/hamlet-quickstart}

stop() {
    [ -f "$QS/pids" ] || return 0
    for pid in $(cat "$QS/pids"); do
        kill -TERM "$pid" 2>/dev/null
    done
    # wait (bounded) for the graceful leaves to finish
    i=0
    while [ $i -lt 100 ]; do
        alive=0
        for pid in $(cat "$QS/pids"); do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
        i=$((i + 1))
    done
    rm -f "$QS/pids"
}

if [ "${1:-}" = stop ]; then
    stop
    echo "==> cluster stopped"
    exit 0
fi

hamlet_deps_install || { echo "==> could not install the dependencies" >&2; exit 1; }
hamlet_build || { echo "==> build failed" >&2; exit 1; }
stop
mkdir -p "$QS"

# node i: gossip 7946+i, RPC 7373+i; nodes 2 and 3 join node 1 at start
: > "$QS/pids"
for i in 0 1 2; do
    join=
    [ $i -gt 0 ] && join="-join 127.0.0.1:7946"
    # shellcheck disable=SC2086
    core/hamletd -node "node$((i + 1))" -bind "127.0.0.1:$((7946 + i))" \
        -rpc-addr "127.0.0.1:$((7373 + i))" $join > "$QS/node$((i + 1)).log" 2>&1 &
    echo $! >> "$QS/pids"
    # the next node joins only once this one answers
    j=0
    until core/hamlet members -rpc-addr="127.0.0.1:$((7373 + i))" > /dev/null 2>&1; do
        j=$((j + 1))
        if [ $j -gt 100 ] || ! kill -0 $! 2>/dev/null; then
            echo "==> node$((i + 1)) did not start; its log:" >&2
            cat "$QS/node$((i + 1)).log" >&2
            stop
            exit 1
        fi
        sleep 0.1
    done
done

# all three alive as seen from node1 (bounded wait for gossip to converge)
j=0
while [ "$(core/hamlet members 2>/dev/null | grep -c ' alive')" -lt 3 ] && [ $j -lt 100 ]; do
    sleep 0.1
    j=$((j + 1))
done
echo "==> a 3-node hamlet cluster is running (logs in $QS):"
echo "    core/hamlet members"
core/hamlet members
echo "==> stop it with: sh contrib/quickstart.sh stop"
