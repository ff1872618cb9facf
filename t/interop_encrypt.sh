#!/bin/sh
# Encrypted gossip (AES-GCM through mod_crypto's packet and stream hooks
# in hamletd's network glue) in a cluster with real serf agents: members
# converge, events and queries cross, and the key queries reach every node.
. "${top_srcdir:-.}/t/interop_lib.sh"

KEY=$("$SERF" keygen)
serf_start s1 -profile=local -encrypt=$KEY
hamlet_start h1 -profile=local -encrypt=$KEY -join=127.0.0.1:$s1_port
serf_start s2 -profile=local -encrypt=$KEY -join=127.0.0.1:$h1_port
hamlet_start h2 -profile=local -encrypt=$KEY -join=127.0.0.1:$s2_port
check "encrypted mixed cluster converges at serf" wait_for 30 serf_count_is $s1_rpc alive 4
check "... and at hamletd" wait_for 30 serf_count_is $h2_rpc alive 4
q4() { "$SERF" query -rpc-addr=127.0.0.1:$h1_rpc -timeout=2s ping 2>&1 | grep -q "Total Acks: 4"; }
check "query from hamletd acked by all 4 over encrypted gossip" wait_for 30 q4
"$SERF" event -rpc-addr=127.0.0.1:$s2_rpc sealed >/dev/null
ev() { grep -q "user-event: sealed" "$W/h1.log" && grep -q "user-event: sealed" "$W/h2.log"; }
check "encrypted event from serf reaches both hamletd" wait_for 40 ev
keys() { "$SERF" keys -list -rpc-addr=127.0.0.1:$h1_rpc 2>&1 | grep -q "$KEY  \[4/4\]"; }
check "serf keys -list at hamletd: the key on 4/4 nodes" wait_for 30 keys
# a node without the key cannot join
hamlet_start h3 -profile=local -join=127.0.0.1:$s1_port
check "a hamletd without the key is refused" wait_for 10 sh -c "! kill -0 $h3_pid 2>/dev/null"
plan
