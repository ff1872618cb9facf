#!/bin/sh
# The same recording handler (t/handlers-record.sh) runs under a serf agent
# (s1) and under hamletd (h1) in one cluster with the same tags; both see
# the same user events, query, join and leave.  Their records must match
# field for field, SERF_SELF_NAME aside; h1 answers the query with the
# handler's output as s1 does.
. "${top_srcdir:-.}/t/lib.sh"
REC="$top_srcdir/t/handlers-record.sh"
case "$REC" in /*) ;; *) REC="$PWD/$REC" ;; esac
tap_init handlers-hamletd 25000
mkdir "$dir/serf" "$dir/ours"
count() { ls "$1" | grep -c '\.rec$'; }
both_have() { [ "$(count "$dir/serf")" -ge "$1" ] && [ "$(count "$dir/ours")" -ge "$1" ]; }
recorded() { cat "$1"/*.rec 2>/dev/null | grep -q "$2"; }

TAGS="-tag role=web -tag dc=east -tag my-tag.x=v"
HM_RECORD_DIR="$dir/serf" serf agent -node=s1 -bind="127.0.67.1:$port" \
    -rpc-addr="127.0.67.1:$rpc" $TAGS -event-handler="$REC" >"$dir/s1.log" 2>&1 &
pids="$pids $!"
until_ok serf members -rpc-addr="127.0.67.1:$rpc" || bail "serf s1 up"
HM_RECORD_DIR="$dir/ours" "$HAMLETD" -node=h1 -bind="127.0.67.2:$port" \
    -rpc-addr="127.0.67.2:$rpc" -module-path="$MODS" \
    $TAGS -event-handler="$REC" -join="127.0.67.1:$port" -log-level=debug \
    >"$dir/h1.log" 2>&1 &
h1=$!
pids="$pids $h1"
until_ok recorded "$dir/serf" "^h1	127.0.67.2	web	" || bail "s1 recorded h1's join"
ok "s1 recorded h1's join"
until_ok recorded "$dir/ours" "^s1	127.0.67.1	web	"
check $? "h1 ran the handler for s1's join (stdin line for s1)"
# Start the comparison from a clean slate.
rm -f "$dir"/serf/*.rec "$dir"/ours/*.rec

serf event -rpc-addr="127.0.67.1:$rpc" -coalesce=false deploy "pay load" >/dev/null 2>&1
until_ok both_have 1 || bail "user event recorded by both"
ok "user event recorded by both"
serf event -rpc-addr="127.0.67.1:$rpc" deploy2 "coalesced" >/dev/null 2>&1
until_ok both_have 2 || bail "coalescing user event recorded by both"
ok "coalescing user event recorded by both"
serf query -rpc-addr="127.0.67.1:$rpc" -timeout=3s ping-q qdata >"$dir/query.out" 2>&1
until_ok both_have 3 || bail "query recorded by both"
ok "query recorded by both"
grep -q "Response from 'h1': answer from h1 to ping-q" "$dir/query.out"
check $? "h1 answered the query with the handler's output"
grep -q "Response from 's1': answer from s1 to ping-q" "$dir/query.out"
check $? "s1 too"

# s2's tags hold a tab and a newline: written escaped on the member line
serf agent -node=s2 -bind="127.0.67.3:$port" -rpc-addr="127.0.67.3:$rpc" -tag role=db \
    -tag "$(printf 'note=a\tb')" -tag "$(printf 'multi=x\ny')" \
    -join="127.0.67.1:$port" >"$dir/s2.log" 2>&1 &
pids="$pids $!"
until_ok both_have 4 || bail "member-join of s2 recorded by both"
ok "member-join of s2 recorded by both"
serf leave -rpc-addr="127.0.67.3:$rpc" >/dev/null 2>&1
until_ok both_have 5 || bail "member-leave of s2 recorded by both"
ok "member-leave of s2 recorded by both"

# member-update and member-failed: s3 joins, changes a tag, then dies.
serf agent -node=s3 -bind="127.0.67.4:$port" -rpc-addr="127.0.67.4:$rpc" -tag role=cache \
    -join="127.0.67.1:$port" >"$dir/s3.log" 2>&1 &
s3=$!
pids="$pids $s3"
until_ok both_have 6 || bail "member-join of s3 recorded by both"
ok "member-join of s3 recorded by both"
serf tags -rpc-addr="127.0.67.4:$rpc" -set zone=a >/dev/null 2>&1
until_ok both_have 7 || bail "member-update of s3 recorded by both"
ok "member-update of s3 recorded by both"
kill -9 "$s3"
# failure detection plus suspicion takes several seconds: allow a minute
TRIES=1200 until_ok both_have 8 || bail "member-failed of s3 recorded by both"
ok "member-failed of s3 recorded by both"

# The other way round: events sent through hamletd's own RPC.
serf event -rpc-addr="127.0.67.2:$rpc" -coalesce=false from-h1 "x" >/dev/null 2>&1
until_ok both_have 9 || bail "user event sent through h1 recorded by both"
ok "user event sent through h1 recorded by both"
serf query -rpc-addr="127.0.67.2:$rpc" -timeout=2s ping-h1 >"$dir/query2.out" 2>&1
until_ok both_have 10 || bail "query sent through h1 recorded by both"
ok "query sent through h1 recorded by both"
grep -q "Response from 's1': answer from s1 to ping-h1" "$dir/query2.out" &&
    grep -q "Response from 'h1': answer from h1 to ping-h1" "$dir/query2.out"
check $? "h1's query collected both handler answers"

normalize() {
    sed 's/^SERF_SELF_NAME=.*/SERF_SELF_NAME=<self>/' "$1" | sort_record_tags
}
ls "$dir/serf" | grep '\.rec$' | sort >"$dir/serf.list"
ls "$dir/ours" | grep '\.rec$' | sort >"$dir/ours.list"
i=0
while read -r s && read -r o <&3; do
    i=$((i + 1))
    normalize "$dir/serf/$s" >"$dir/a"
    normalize "$dir/ours/$o" >"$dir/b"
    ev=$(sed -n 's/^SERF_EVENT=//p' "$dir/a")
    if diff -u "$dir/a" "$dir/b" >"$dir/diff"; then
        ok "record $i ($ev): hamletd's equals serf's"
    else
        notok "record $i ($ev): records differ"; sed 's/^/# /' "$dir/diff"
    fi
done <"$dir/serf.list" 3<"$dir/ours.list"
[ "$(count "$dir/serf")" = 10 ] && [ "$(count "$dir/ours")" = 10 ]
check $? "both ran the handler exactly 10 times"
kill -0 "$h1" 2>/dev/null
check $? "hamletd still running"
done_testing
