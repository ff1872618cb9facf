#!/bin/sh
# RPC benchmark: `members` calls per second and server CPU per call, on
# hamletd (mod_rpc) and on a serf agent, in the same run and the same
# cluster (so both list the same members); then event and query latency
# between them (mixed cluster).  Loopback only.
#
#   contrib/bench/rpc_bench.sh [CALLS] [CLIENTS] [EXTRA_SERF_NODES]
#
# Needs: a built tree (core/hamletd, modules/mod_rpc.so), `serf`, and
# /usr/bin/python3 with python3-msgpack (the load generator: one persistent
# connection per client, requests back to back).  The figure to compare is
# the server's CPU per call (from /proc/PID/stat), since the Python client's
# own cost bounds the calls per second on a small machine.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
CALLS=${1:-20000}
CLIENTS=${2:-4}
EXTRA=${3:-3}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/rpc-bench.XXXXXX)
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT INT TERM

port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_rpc() {
    i=0
    while ! serf members -rpc-addr "$1" >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt 200 ] && { echo "no RPC on $1" >&2; exit 1; }; sleep 0.1
    done
}

hg=$(port); hr=$(port)
"$top/core/hamletd" -node bench-hamlet -bind 127.0.0.1:$hg -rpc-addr 127.0.0.1:$hr \
    -log-level warn > "$tmp/hamletd.log" 2>&1 &
hpid=$!; pids="$pids $hpid"
wait_rpc 127.0.0.1:$hr
sg=$(port); sr=$(port)
serf agent -node bench-serf -bind 127.0.0.1:$sg -rpc-addr 127.0.0.1:$sr -join 127.0.0.1:$hg \
    -log-level warn > "$tmp/serf.log" 2>&1 &
spid=$!; pids="$pids $spid"
wait_rpc 127.0.0.1:$sr
i=0
while [ $i -lt "$EXTRA" ]; do
    g=$(port)
    serf agent -node "extra$i" -bind 127.0.0.1:$g -rpc-addr 127.0.0.1:$(port) \
        -join 127.0.0.1:$hg -log-level warn > "$tmp/extra$i.log" 2>&1 &
    pids="$pids $!"
    i=$((i + 1))
done
want=$((EXTRA + 2)); i=0
while [ "$(serf members -rpc-addr 127.0.0.1:$sr -status alive | wc -l)" -lt $want ] ||
      [ "$(serf members -rpc-addr 127.0.0.1:$hr -status alive | wc -l)" -lt $want ]; do
    i=$((i + 1)); [ $i -gt 300 ] && { echo "cluster did not form" >&2; exit 1; }; sleep 0.1
done

cat > "$tmp/load.py" <<'PY'
import socket, sys, threading, time, msgpack
host, port = sys.argv[1].rsplit(":", 1)
calls, clients = int(sys.argv[2]), int(sys.argv[3])
def client(n, out):
    s = socket.create_connection((host, int(port)))
    u = msgpack.Unpacker(raw=False)
    def rd():
        while True:
            for o in u:
                return o
            u.feed(s.recv(65536))
    s.sendall(msgpack.packb({"Command": "handshake", "Seq": 0}) + msgpack.packb({"Version": 1}))
    rd()
    req = [msgpack.packb({"Command": "members", "Seq": i + 1}) for i in range(n)]
    for r in req:
        s.sendall(r)
        h = rd(); b = rd()
        assert h["Error"] == "" and b["Members"]
    out.append(n)
done = []
ts = [threading.Thread(target=client, args=(calls // clients, done)) for _ in range(clients)]
t0 = time.time()
for t in ts: t.start()
for t in ts: t.join()
print("%d %.3f" % (sum(done), time.time() - t0))
PY

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, clock ticks
hz=$(getconf CLK_TCK)
run() { # NAME RPCADDR PID
    c0=$(cpu "$3")
    set -- "$1" "$2" "$3" $($PY "$tmp/load.py" "$2" "$CALLS" "$CLIENTS")
    c1=$(cpu "$3")
    awk -v name="$1" -v n="$4" -v secs="$5" -v t0="$c0" -v t1="$c1" -v hz="$hz" 'BEGIN {
        us = (t1 - t0) / hz * 1e6 / n
        printf "%-8s %7d calls  %6.2f s  %8.0f calls/s  server CPU %6.1f us/call\n",
               name, n, secs, n / secs, us }'
}
echo "members RPC, $CALLS calls over $CLIENTS connections, $want members in the cluster"
run hamletd 127.0.0.1:$hr $hpid
run serf 127.0.0.1:$sr $spid

# Event and query latency across the mixed cluster, measured by RPC clients:
# an event sent to one agent until a `stream` on the other sees it; a query
# sent to one agent until every member has acked.
cat > "$tmp/lat.py" <<'PY'
import socket, statistics, sys, time, msgpack
class C:
    def __init__(self, addr):
        h, p = addr.rsplit(":", 1)
        self.s = socket.create_connection((h, int(p)))
        self.u = msgpack.Unpacker(raw=False)
        self.seq = 0
        self.req("handshake", {"Version": 1}); self.rd()
    def req(self, cmd, body=None):
        self.seq += 1
        self.s.sendall(msgpack.packb({"Command": cmd, "Seq": self.seq}) +
                       (msgpack.packb(body, use_bin_type=True) if body is not None else b""))
        return self.seq
    def rd(self):
        while True:
            for o in self.u:
                return o
            self.u.feed(self.s.recv(65536))
def event_lat(src, dst, n):
    a, b = C(src), C(dst)
    sseq = b.req("stream", {"Type": "user"}); b.rd()
    out = []
    for i in range(n):
        name = "lat%d" % i
        t0 = time.time()
        a.req("event", {"Name": name, "Payload": b"", "Coalesce": False}); a.rd()
        while True:
            h = b.rd(); r = b.rd()
            if h["Seq"] == sseq and r.get("Name") == name:
                break
        out.append(time.time() - t0)
    return out
def query_lat(src, members, n):
    a = C(src)
    out = []
    for i in range(n):
        t0 = time.time(); acks = 0; last = None
        q = a.req("query", {"FilterNodes": None, "FilterTags": {}, "RequestAck": True,
                            "RelayFactor": 0, "Timeout": 3000000000, "Name": "lat",
                            "Payload": b""})
        a.rd()
        while True:
            h = a.rd(); r = a.rd()
            if r["Type"] == "ack":
                acks += 1
                if acks == members:
                    last = time.time() - t0
            if r["Type"] == "done":
                break
        if last is not None:
            out.append(last)
    return out
ms = lambda v: "%.1f ms median, %.1f ms max (%d samples)" % (
    statistics.median(v) * 1e3, max(v) * 1e3, len(v)) if v else "no samples"
h, s, members = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("event  hamletd -> serf     %s" % ms(event_lat(h, s, 20)))
print("event  serf -> hamletd     %s" % ms(event_lat(s, h, 20)))
print("query  from hamletd, all %d acks  %s" % (members, ms(query_lat(h, members, 5))))
print("query  from serf, all %d acks     %s" % (members, ms(query_lat(s, members, 5))))
PY
$PY "$tmp/lat.py" 127.0.0.1:$hr 127.0.0.1:$sr $want
