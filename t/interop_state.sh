#!/bin/sh
# Interop of the Serf layer's state machinery with the real `serf agent`:
# a hamletd restarted from its snapshot rejoins without -join; a failed
# serf node that comes back alone is reconnected by hamletd; a failed node
# is reaped after reconnect_timeout; a name conflict is resolved.
. "${top_srcdir:-.}/t/interop_lib.sh"

# --- snapshot: restart without -join ---------------------------------------
serf_start s1 -profile=local
snap=$W/h1.snapshot
hamlet_start h1 -profile=local -snapshot=$snap -join=127.0.0.1:$s1_port
check "hamletd with a snapshot joins" wait_for 10 serf_sees $s1_rpc h1 alive
check "the snapshot records the serf node" wait_for 5 \
    grep -q "^alive: s1 127.0.0.1:$s1_port\$" $snap
kill -9 $h1_pid
check "killed hamletd is failed at serf" wait_for 40 serf_sees $s1_rpc h1 failed
cp "$W/h1.log" "$W/h1-first.log"
"$HAMLETD" -node=h1 -bind=127.0.0.1:$h1_port -rpc-addr=127.0.0.1:$h1_rpc -profile=local \
    -snapshot=$snap >"$W/h1.log" 2>&1 &
h1_pid=$!
PIDS="$PIDS $h1_pid"
t0=$(now_ms)
check "restarted hamletd rejoins from its snapshot (no -join)" \
    wait_for 15 serf_sees $s1_rpc h1 alive
echo "# rejoined $(( $(now_ms) - t0 )) ms after the restart"
check "hamletd logged the re-join" \
    hamlet_logged h1 'Attempting re-join to previously known node: s1'
check "its clocks were restored (no replay of the member clock from 1)" \
    grep -Eq '^clock: [0-9]+$' $snap

# after a graceful leave the snapshot says "leave": no rejoin on restart,
# unless -rejoin
kill -INT $h1_pid
check "graceful leave of the snapshot node" wait_for 15 serf_sees $s1_rpc h1 left
check "the snapshot records the leave" wait_for 10 sh -c "tail -n 3 $snap | grep -qx leave"
wait_for 10 sh -c "! kill -0 $h1_pid 2>/dev/null"
restart_h1() {
    "$HAMLETD" -node=h1 -bind=127.0.0.1:$h1_port -rpc-addr=127.0.0.1:$h1_rpc \
        -profile=local -snapshot=$snap "$@" >>"$W/h1.log" 2>&1 &
    h1_pid=$!
    PIDS="$PIDS $h1_pid"
}
restart_h1
wait_for 5 sh -c "'$SERF' members -rpc-addr=127.0.0.1:$h1_rpc >/dev/null 2>&1"
sleep 2 # give a wrong re-join the time it would need (it took ~100 ms above)
check "after a leave, a restart does not rejoin" serf_sees $s1_rpc h1 left
check "... while it runs, alone" sh -c "alive() { kill -0 $h1_pid; }; alive && '$SERF' members -rpc-addr=127.0.0.1:$h1_rpc | grep -c alive | grep -qx 1"
kill -9 $h1_pid
wait $h1_pid 2>/dev/null # its ports must be free before the restart binds them
restart_h1 -rejoin
check "with -rejoin it does" wait_for 15 serf_sees $s1_rpc h1 alive

# --- reconnect and reap ----------------------------------------------------
cat > "$W/h2.json" <<JSON
{"reconnect_interval": "1s", "reconnect_timeout": "8s"}
JSON
# a separate two-node cluster, so that only hamletd can do the reconnecting
hamlet_start h2 -profile=local -config-file="$W/h2.json"
serf_start s2 -profile=local -join=127.0.0.1:$h2_port
check "s2 joins through h2" wait_for 10 hamlet_sees h2 s2 alive
kill -9 $s2_pid
wait $s2_pid 2>/dev/null # its ports are taken again below
check "h2 marks the killed s2 failed" wait_for 30 hamlet_sees h2 s2 failed
# s2 comes back alone, same name and address, no -join: only a reconnect
# from the cluster can bring it back in
"$SERF" agent -node=s2 -bind=127.0.0.1:$s2_port -rpc-addr=127.0.0.1:$s2_rpc -profile=local \
    >"$W/s2.log" 2>&1 &
s2_pid=$!
PIDS="$PIDS $s2_pid"
t0=$(now_ms)
check "hamletd reconnects to the failed node when it is back" \
    wait_for 20 serf_sees $s2_rpc h2 alive
echo "# reconnected $(( $(now_ms) - t0 )) ms after s2 restarted"
check "hamletd logged the reconnect attempt" \
    hamlet_logged h2 'serf: attempting reconnect to s2 127\.0\.0\.1'
kill -9 $s2_pid
check "s2 failed again" wait_for 30 hamlet_sees h2 s2 failed
t0=$(now_ms)
reaped() { grep -q "EventMemberReap: s2" "$W/h2.log"; }
check "failed s2 reaped by hamletd after reconnect_timeout (8 s)" wait_for 40 reaped
echo "# reaped $(( $(now_ms) - t0 )) ms after being marked failed"

# --- name conflict ---------------------------------------------------------
# a hamletd that takes the name of a live serf node is outvoted and quits
hamlet_start dup -profile=local -node=s1 -join=127.0.0.1:$h1_port
quits() { ! alive_pid $dup_pid; }
check "a hamletd claiming a taken name loses the vote and exits" wait_for 30 quits
check "it logged the conflict and the lost vote" hamlet_logged dup 'minority in name conflict resolution, quitting'
check "the serf node keeps its name" serf_sees $s1_rpc s1 alive
# and the other way round: a serf agent taking a hamletd's name loses, the
# hamletd voters answering _serf_conflict with what they know
hamlet_start hx -profile=local -join=127.0.0.1:$s1_port
check "a second hamletd voter joins" wait_for 10 serf_sees $s1_rpc hx alive
pd=$(free_port); rd=$(free_port)
"$SERF" agent -node=h1 -bind=127.0.0.1:$pd -rpc-addr=127.0.0.1:$rd -profile=local \
    -join=127.0.0.1:$s1_port >"$W/serfdup.log" 2>&1 &
dpid=$!
PIDS="$PIDS $dpid"
check "a serf agent claiming a hamletd's name loses the vote and quits" \
    wait_for 30 sh -c "! kill -0 $dpid 2>/dev/null"
check "serf logged the lost vote" grep -q "minority in name conflict resolution" "$W/serfdup.log"
# voters: s1 and hx (h1 does not vote on its own name); hx's [6]Member
# answer decoded by Go counts as a response that does not match the newcomer
check "both voters answered, the hamletd's Member decoded by serf: [0 / 2]" \
    grep -q "quitting \[0 / 2\]" "$W/serfdup.log"
check "the hamletd keeps its name" serf_sees $s1_rpc h1 alive
plan
