#!/bin/sh
# The membership actions of the agent API (hm_join, hm_force_leave,
# hm_leave, _serf_ping queries), driven with the real `serf` client
# through hamletd's RPC port, in a cluster with real serf agents.
. "${top_srcdir:-.}/t/interop_lib.sh"

serf_start s1 -profile=local
hamlet_start h1 -profile=local
wait_for 5 sh -c "'$SERF' members -rpc-addr=127.0.0.1:$h1_rpc >/dev/null 2>&1"
out=$("$SERF" join -rpc-addr=127.0.0.1:$h1_rpc 127.0.0.1:$s1_port 2>&1)
check "serf join -rpc-addr=hamletd: $out" test "$out" = "Successfully joined cluster by contacting 1 nodes."
out=$("$SERF" join -rpc-addr=127.0.0.1:$h1_rpc 127.0.0.1:1 2>&1)
case $out in *"Error joining"*|*"rror"*) r=0 ;; *) r=1 ;; esac
check "joining a dead address fails with an error" test $r -eq 0
serf_start s2 -profile=local -join=127.0.0.1:$s1_port
check "hamletd lists 3 alive" wait_for 15 serf_count_is $h1_rpc alive 3
reach() { "$SERF" reachability -rpc-addr=127.0.0.1:$h1_rpc 2>&1 | grep -q "Successfully contacted all live nodes"; }
check "serf reachability through hamletd (_serf_ping acks)" wait_for 30 reach
kill -9 $s2_pid
check "s2 failed at hamletd" wait_for 30 serf_sees $h1_rpc s2 failed
"$SERF" force-leave -rpc-addr=127.0.0.1:$h1_rpc s2 >/dev/null 2>&1
check "force-leave at hamletd: serf sees s2 left (gossip or push/pull)" wait_for 40 serf_sees $s1_rpc s2 left
check "... and so does hamletd" serf_sees $h1_rpc s2 left
"$SERF" force-leave -prune -rpc-addr=127.0.0.1:$h1_rpc s2 >/dev/null 2>&1
gone() { ! "$SERF" members -rpc-addr=127.0.0.1:$1 | grep -q '^s2 '; }
check "force-leave -prune erases s2 at hamletd" wait_for 10 gone $h1_rpc
# The prune travels as one gossiped intent that nothing re-sends (push/pull
# carries no prune), and with s2 dead but still gossiped to, its two
# transmissions may both go to s2, in Serf as here: re-issue it until seen.
pruned_at_serf() {
    for i in 1 2 3 4 5 6; do
        wait_for 3 gone $s1_rpc && return 0
        "$SERF" force-leave -prune -rpc-addr=127.0.0.1:$h1_rpc s2 >/dev/null 2>&1
    done
    gone $s1_rpc
}
check "... and at serf" pruned_at_serf
out=$("$SERF" leave -rpc-addr=127.0.0.1:$h1_rpc 2>&1)
check "serf leave -rpc-addr=hamletd: $out" test $? -eq 0
check "serf sees hamletd left" wait_for 15 serf_sees $s1_rpc h1 left
check "hamletd exits after the RPC leave" wait_for 10 sh -c "! kill -0 $h1_pid 2>/dev/null"

# retry_join: hamletd keeps trying until the serf agent is there
p3=$(free_port)
hamlet_start h3 -profile=local -retry-join=127.0.0.1:$p3 -retry-interval=1s
retried_twice() { [ "$(grep -c 'Join failed: ' "$W/h3.log")" -ge 2 ]; }
check "hamletd retries while retry_join fails" wait_for 10 retried_twice
check "... and keeps running" alive_pid $h3_pid
r3=$(free_port)
"$SERF" agent -node=s3 -bind=127.0.0.1:$p3 -rpc-addr=127.0.0.1:$r3 -profile=local \
    >"$W/s3.log" 2>&1 &
PIDS="$PIDS $!"
check "retry_join succeeds once the serf agent is up" wait_for 15 serf_sees $r3 h3 alive
check "hamletd logged the failed attempts" hamlet_logged h3 'Join failed: .*retrying in 1s'
# retry_max: gives up and exits
hamlet_start h4 -profile=local -retry-join=127.0.0.1:$(free_port) -retry-interval=1s \
    -retry-max=2
check "retry_max exceeded: hamletd exits" wait_for 15 sh -c "! kill -0 $h4_pid 2>/dev/null"
check "... saying why" hamlet_logged h4 'maximum retry join attempts made, exiting'
wait $h4_pid; h4_rc=$?
# the real serf with the same flags: retries max times after the first
# attempt, then exits 1
"$SERF" agent -node=s4 -bind=127.0.0.1:$(free_port) -rpc-addr=127.0.0.1:$(free_port) \
    -profile=local -retry-join=127.0.0.1:$(free_port) -retry-interval=1s -retry-max=2 \
    >"$W/s4.log" 2>&1 &
s4_pid=$!
PIDS="$PIDS $s4_pid"
wait_for 15 sh -c "! kill -0 $s4_pid 2>/dev/null"
wait $s4_pid; s4_rc=$?
check "... with serf's exit status ($h4_rc, serf $s4_rc)" \
    test "$h4_rc" = "$s4_rc" -a "$s4_rc" = 1
nfail() { grep -c 'Join failed: ' "$1"; }
check "... after as many attempts ($(nfail "$W/h4.log"), serf $(nfail "$W/s4.log"))" \
    test "$(nfail "$W/h4.log")" = "$(nfail "$W/s4.log")"

# -iface: bind 0.0.0.0 takes the interface's address; a bind address the
# interface does not have is refused
hamlet_start h5 -profile=local -iface=lo -bind=0.0.0.0:$(free_port) -join=127.0.0.1:$s1_port
check "-iface lo with -bind 0.0.0.0: advertised as 127.0.0.1, joins" \
    wait_for 10 serf_sees $s1_rpc h5 alive
check "... and says which address it took" hamlet_logged h5 "Using interface 'lo' address '127.0.0.1'"
hamlet_start h6 -profile=local -iface=lo -bind=127.0.0.2:$(free_port)
check "-iface lo with a bind address lo lacks: refused" \
    wait_for 10 sh -c "! kill -0 $h6_pid 2>/dev/null && grep -q \"Interface 'lo' has no '127.0.0.2' address\" $W/h6.log"

# A join to a peer that accepts and never answers blocks the RPC call up to
# the TCP timeout (10 s, lan profile); meanwhile hamletd keeps answering
# probes, so the serf agent never suspects it.
serf_start s7 -profile=lan
hamlet_start h7 -profile=lan -join=127.0.0.1:$s7_port
check "lan pair formed" wait_for 10 serf_sees $s7_rpc h7 alive
mute=$(free_port)
/usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $mute)); s.listen(5)
c, _ = s.accept(); time.sleep(14)" &
PIDS="$PIDS $!"
listening() { ss -ltn "sport = :$1" | grep -q LISTEN; }
wait_for 5 listening $mute
t0=$(now_ms)
"$SERF" join -rpc-addr=127.0.0.1:$h7_rpc 127.0.0.1:$mute >"$W/mute.out" 2>&1 &
jpid=$!
PIDS="$PIDS $jpid"
steady=0
while kill -0 $jpid 2>/dev/null; do
    serf_sees $s7_rpc h7 alive || steady=1
    sleep 0.5
done
echo "# the join to the mute peer returned after $(( $(now_ms) - t0 )) ms: $(cat $W/mute.out)"
check "the join to a mute peer fails after the TCP timeout" grep -qi "error" "$W/mute.out"
check "serf saw hamletd alive throughout the blocked join" test $steady -eq 0
check "... and never suspected it" sh -c "! grep -q 'Suspect h7' $W/s7.log"
plan
