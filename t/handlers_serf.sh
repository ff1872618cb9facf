#!/bin/sh
# Serf's own agent runs a recording handler (t/handlers-record.sh) for a
# sequence of events: its own join, a user event, a query, another node's
# join and leave.  For every record, the same event is replayed through
# mod_handlers' env.c/run.c (t/handlers-replay) with the same script, and
# the two records must match field for field (SERF_* variables and stdin;
# tag order inside a member line is Go's random map order, so sorted).
# The query's response must be the script's output in both.
. "${top_srcdir:-.}/t/lib.sh"
REC="$top_srcdir/t/handlers-record.sh"
REPLAY="$top_builddir/t/handlers-replay"
tap_init handlers-serf 23000
mkdir "$dir/serf" "$dir/ours"
rpc1="127.0.63.1:$rpc"
rpc2="127.0.63.2:$rpc"

# At least N records (Serf flushes member events after 1 s).
has_records() { [ "$(ls "$dir/serf" | grep -c '\.rec$')" -ge "$1" ]; }

HM_RECORD_DIR="$dir/serf" serf agent -node=h1 -bind="127.0.63.1:$port" -rpc-addr="$rpc1" \
    -tag role=web -tag dc=east -tag my-tag.x=v -event-handler="$REC" >"$dir/h1.log" 2>&1 &
pids="$pids $!"
until_ok has_records 1 || bail "serf recorded its own member-join"
ok "serf recorded its own member-join"

serf event -rpc-addr="$rpc1" -coalesce=false deploy "pay load" >/dev/null 2>&1
until_ok has_records 2 || bail "user event recorded"
ok "user event recorded"

serf query -rpc-addr="$rpc1" -timeout=2s ping-q qdata >"$dir/query.out" 2>&1
until_ok has_records 3 || bail "query recorded"
grep -q "Response from 'h1': answer from h1 to ping-q" "$dir/query.out"
check $? "serf sent the handler's output as the query response"

serf agent -node=h2 -bind="127.0.63.2:$port" -rpc-addr="$rpc2" -tag role=db \
    -join="127.0.63.1:$port" >"$dir/h2.log" 2>&1 &
pids="$pids $!"
until_ok has_records 4 || bail "member-join of h2 recorded"
ok "member-join of h2 recorded"
serf leave -rpc-addr="$rpc2" >/dev/null 2>&1
until_ok has_records 5 || bail "member-leave of h2 recorded"
ok "member-leave of h2 recorded"

# Same tags as the agent; the order of -t is irrelevant (records are sorted).
SELF="-s h1 -t role=web -t dc=east -t my-tag.x=v"
H1="h1/127.0.63.1/role=web,dc=east,my-tag.x=v"
H2="h2/127.0.63.2/role=db"


var() { sed -n "s/^$1=//p" "$2"; }

joins=0
for rec in $(ls "$dir/serf" | grep '\.rec$' | sort); do
    f="$dir/serf/$rec"
    ev=$(var SERF_EVENT "$f")
    case "$ev" in
    member-join)
        joins=$((joins + 1))
        if [ $joins = 1 ]; then m=$H1; else m=$H2; fi
        args="-e member-join -m $m" ;;
    member-leave) args="-e member-leave -m $H2" ;;
    user) args="-e user -n $(var SERF_USER_EVENT "$f") -l $(var SERF_USER_LTIME "$f")" ;;
    query) args="-e query -n $(var SERF_QUERY_NAME "$f") -l $(var SERF_QUERY_LTIME "$f")" ;;
    *) notok "unexpected event '$ev' in $rec"; continue ;;
    esac
    before=$(ls "$dir/ours" | grep -c '\.rec$')
    case "$ev" in
    user) HM_RECORD_DIR="$dir/ours" "$REPLAY" $SELF $args -p "pay load" -- "$REC" \
            >"$dir/replay.out" ;;
    query) HM_RECORD_DIR="$dir/ours" "$REPLAY" $SELF $args -p qdata -- "$REC" \
            >"$dir/replay.out" ;;
    *) HM_RECORD_DIR="$dir/ours" "$REPLAY" $SELF $args -- "$REC" >"$dir/replay.out" ;;
    esac
    st=$?
    ours=$(ls "$dir/ours" | grep '\.rec$' | sort | tail -n 1)
    if [ $st != 0 ] || [ "$(ls "$dir/ours" | grep -c '\.rec$')" != $((before + 1)) ]; then
        notok "$ev: replay ran the script (status $st)"; continue
    fi
    sort_record_tags "$f" >"$dir/a"
    sort_record_tags "$dir/ours/$ours" >"$dir/b"
    if diff -u "$dir/a" "$dir/b" >"$dir/diff"; then
        ok "$ev: same SERF_* environment and stdin as under serf ($(grep -c . "$dir/a") lines)"
    else
        notok "$ev: records differ"; sed 's/^/# /' "$dir/diff"
    fi
    if [ "$ev" = query ]; then
        grep -q "^answer from h1 to ping-q$" "$dir/replay.out"
        check $? "query: our output is the response serf sent"
    fi
done
[ "$(ls "$dir/serf" | grep -c '\.rec$')" = 5 ]
check $? "serf ran the handler exactly 5 times"

done_testing
