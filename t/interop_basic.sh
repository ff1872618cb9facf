#!/bin/sh
# Interop with the real `serf agent` on 127.0.0.1: hamletd joins serf and
# serf joins hamletd, each lists the other alive; kill -9 of either is seen
# as failed by the other; graceful leave is seen as left both ways.
# PROFILE=lan (or wan) runs it with another timing profile (default local).
. "${top_srcdir:-.}/t/interop_lib.sh"

serf_start s1 -profile=${PROFILE:-local}
hamlet_start h1 -profile=${PROFILE:-local} -join=127.0.0.1:$s1_port
t0=$(now_ms)
check "serf lists the hamlet node alive (hamletd joined serf)" wait_for 10 serf_sees $s1_rpc h1 alive
ok_ms=$(( $(now_ms) - t0 ))
check "hamletd lists the serf node alive" wait_for 10 hamlet_sees h1 s1 alive
check "hamletd logged the Serf-style join line" \
    hamlet_logged h1 '\[INFO\] serf: EventMemberJoin: s1 127\.0\.0\.1'
echo "# h1 listed alive by serf ${ok_ms} ms after start"

# serf joins hamletd
serf_start s2 -profile=${PROFILE:-local} -join=127.0.0.1:$h1_port
check "serf joined through hamletd: s2 lists h1 alive" wait_for 10 serf_sees $s2_rpc h1 alive
check "s2 lists s1 alive via hamletd's push/pull" wait_for 10 serf_sees $s2_rpc s1 alive
check "hamletd lists s2 alive" wait_for 10 hamlet_sees h1 s2 alive

# kill -9 of a serf node: hamletd marks it failed
kill -9 $s2_pid
t0=$(now_ms)
check "hamletd marks the killed serf node failed" wait_for 20 hamlet_sees h1 s2 failed
echo "# s2 failed at hamletd after $(( $(now_ms) - t0 )) ms"
check "serf s1 agrees s2 failed" wait_for 20 serf_sees $s1_rpc s2 failed

# graceful leave of a serf node: hamletd sees it left
serf_start s3 -profile=${PROFILE:-local} -join=127.0.0.1:$h1_port
check "s3 joins" wait_for 10 hamlet_sees h1 s3 alive
"$SERF" leave -rpc-addr=127.0.0.1:$s3_rpc >/dev/null 2>&1
check "hamletd sees the serf node that left as left" wait_for 15 hamlet_sees h1 s3 left

# graceful leave of hamletd (SIGINT): serf sees it left
kill -INT $h1_pid
t0=$(now_ms)
check "serf sees hamletd left after SIGINT" wait_for 15 serf_sees $s1_rpc h1 left
echo "# h1 left at serf after $(( $(now_ms) - t0 )) ms"
check "hamletd exits after the leave" wait_for 10 sh -c "! kill -0 $h1_pid 2>/dev/null"

# kill -9 of hamletd: serf marks it failed
hamlet_start h2 -profile=${PROFILE:-local} -join=127.0.0.1:$s1_port
check "second hamletd joins" wait_for 10 serf_sees $s1_rpc h2 alive
kill -9 $h2_pid
t0=$(now_ms)
# s1 is the only prober left and its node list still holds the dead and
# left nodes, so memberlist waits out the full Lifeguard suspicion
# (6 x 3 s in the local profile): about 19 s.
check "serf marks the killed hamletd failed" wait_for 40 serf_sees $s1_rpc h2 failed
echo "# h2 failed at serf after $(( $(now_ms) - t0 )) ms"
plan
