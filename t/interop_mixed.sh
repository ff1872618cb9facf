#!/bin/sh
# A mixed cluster of 3 real `serf agent`s and 3 hamletd nodes (compression
# on, the default), joined in a chain that alternates kinds.  Everyone
# converges; user events and queries cross both ways; tags set on hamlet
# are seen and filtered on by serf; `serf rtt` between kinds gives a
# figure.  hamletd is driven through its RPC port (mod_rpc) by the real
# `serf` client.
. "${top_srcdir:-.}/t/interop_lib.sh"

Q='query=echo pong-$SERF_SELF_NAME'
serf_start s1 -profile=local -event-handler="$Q"
hrpc1=$(free_port); hrpc2=$(free_port); hrpc3=$(free_port)
RPCS="$RPCS $hrpc1 $hrpc2 $hrpc3"
t0=$(now_ms)
hamlet_start h1 -profile=local -rpc-addr=127.0.0.1:$hrpc1 -event-handler="$Q" \
    -join=127.0.0.1:$s1_port
wait_for 10 serf_sees $s1_rpc h1 alive
serf_start s2 -profile=local -event-handler="$Q" -join=127.0.0.1:$h1_port
hamlet_start h2 -profile=local -rpc-addr=127.0.0.1:$hrpc2 -event-handler="$Q" \
    -join=127.0.0.1:$s2_port
wait_for 10 serf_sees $s2_rpc h2 alive
serf_start s3 -profile=local -event-handler="$Q" -tag role=web -join=127.0.0.1:$h2_port
hamlet_start h3 -profile=local -rpc-addr=127.0.0.1:$hrpc3 -event-handler="$Q" -tag role=web -tag dc=x \
    -join=127.0.0.1:$s3_port

all6() {
    for r in "$@"; do serf_count_is "$r" alive 6 || return 1; done
}
check "every serf agent lists 6 alive members" wait_for 40 all6 $s1_rpc $s2_rpc $s3_rpc
check "every hamletd lists 6 alive members (serf members -rpc-addr=hamletd)" \
    wait_for 40 all6 $hrpc1 $hrpc2 $hrpc3
echo "# 6-node mixed cluster converged $(( $(now_ms) - t0 )) ms after the first start"
check "compression on both kinds: no decode errors in the hamletd logs" \
    sh -c "! grep -Eq 'Failed to decode|malformed|invalid checksum' $W/h1.log $W/h2.log $W/h3.log"

# user events: serf -> hamlet and hamlet -> serf.  The local profile
# retransmits each broadcast only 2 x ceil(log10(n+1)) = 2 times per node,
# so a node may miss the gossip and get the event from the next push/pull
# (every 15 s): the deadlines allow for that, as Serf does.
"$SERF" event -rpc-addr=127.0.0.1:$s1_rpc deploy v1 >/dev/null
t0=$(now_ms)
ev_at() { for n in "$@"; do grep -q "Received event: user-event: $EV" "$W/$n.log" || return 1; done; }
EV=deploy check "serf event reaches all three hamletd" wait_for 40 ev_at h1 h2 h3
echo "# event spread to the hamlet nodes in $(( $(now_ms) - t0 )) ms"
"$SERF" event -rpc-addr=127.0.0.1:$hrpc3 build v2 >/dev/null
EV=build check "event fired at hamletd reaches the serf agents' handlers" \
    wait_for 40 ev_at s1 s2 s3
EV=build check "... and the other hamletd" wait_for 40 ev_at h1 h2

# queries: serf -> all, hamlet -> all.  Each check re-runs its query until
# it passes or the deadline comes: one query is one shot in a loaded CI box.
# q_has RPC PATTERN [query flags...]: the output of one query matches.
q_has() {
    r=$1; pat=$2; shift 2
    "$SERF" query -rpc-addr=127.0.0.1:$r -timeout=3s "$@" ping 2>&1 > "$W/q.out"
    grep -Eq "$pat" "$W/q.out"
}
check "query from serf: 6 acks (hamletd acks)" wait_for 30 q_has $s2_rpc "Total Acks: 6"
check "query from serf: all 6 handlers respond (hamletd through mod_handlers)" \
    wait_for 30 q_has $s2_rpc "Total Responses: 6"
check "... hamletd's answer is its handler's output" \
    wait_for 30 q_has $s2_rpc "Response from 'h2': pong-h2"
check "query from hamletd: 6 acks" wait_for 30 q_has $hrpc1 "Total Acks: 6"
check "query from hamletd: serf's response comes back" \
    wait_for 30 q_has $hrpc1 "Response from 's3': pong-s3"
two_web() { q_has $s1_rpc "Total Acks: 2" -tag role=web && grep -q "Ack from 'h3'" "$W/q.out"; }
check "tag-filtered query from serf: acks from s3 and h3 only" wait_for 30 two_web
two_nodes() {
    q_has $s1_rpc "Total Acks: 2" -node h2 -node s3 -relay-factor=2 &&
        grep -q "Ack from 'h2'" "$W/q.out"
}
check "node-filtered query with relays: 2 acks, relayed copies collapsed" wait_for 30 two_nodes

# tags seen and filtered by serf
tagged() { "$SERF" members -rpc-addr=127.0.0.1:$s1_rpc -tag role=web | awk '{print $1}' | sort | tr '\n' ' ' | grep -qx 'h3 s3 '; }
check "serf members -tag role=web lists h3 and s3" wait_for 10 tagged
"$SERF" tags -rpc-addr=127.0.0.1:$hrpc1 -set dc=east >/dev/null 2>&1
newtag() { "$SERF" members -rpc-addr=127.0.0.1:$s3_rpc -tag dc=east | grep -q '^h1 '; }
# The update is an alive message relayed by gossip with a small retransmit
# limit (local profile: RetransmitMult 2 per relaying node), so in a
# 6-node cluster one node can miss every copy; Serf then converges on the
# next push/pull (PushPullInterval 15 s in the local profile).
check "a tag set at run time on hamletd reaches serf" wait_for 30 newtag

# coordinates: serf rtt between kinds
rtt_ok() { "$SERF" rtt -rpc-addr=127.0.0.1:$s1_rpc s1 "$1" 2>&1 | grep -Eq "rtt: [0-9.]+ ms"; }
check "serf rtt s1 <-> h2 prints a figure (hamlet's coordinate in acks)" wait_for 15 rtt_ok h2
rtt2() { "$SERF" rtt -rpc-addr=127.0.0.1:$hrpc2 h2 s3 2>&1 | grep -Eq "rtt: [0-9.]+ ms"; }
check "serf rtt at hamletd h2 <-> s3 prints a figure (hamlet's Vivaldi)" wait_for 15 rtt2
"$SERF" rtt -rpc-addr=127.0.0.1:$s1_rpc s1 h2 2>&1 | sed 's/^/# /'
plan
