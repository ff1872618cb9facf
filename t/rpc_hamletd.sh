#!/bin/sh
# The real `serf` CLI (every subcommand that talks to an agent) against
# hamletd with mod_rpc, in a cluster with a real serf agent; `hamlet` and
# `serf` print the same against hamletd; raw sessions (t/rpc_proto.py).
. "$top_srcdir/t/rpc_lib.sh"

start_hamletd h1 -tag role=web -tag dc=east; check $? "hamletd h1 up"
start_serf s1 -tag role=db -join "$h1_BIND"; check $? "serf agent s1 up, joined h1"
start_hamletd h2 -join "$h1_BIND"; check $? "hamletd h2 up, joined h1"
poll 20 has_alive "$h1_RPC" 3; check $? "h1 sees 3 alive members"
poll 20 has_alive "$s1_RPC" 3; check $? "s1 sees 3 alive members"
export SERF_RPC_ADDR=$h1_RPC

# --- members ------------------------------------------------------------------
serf_ok '^s1  127\.0\.0\.1:[0-9]+  alive  role=db$' members -tag role=db
serf_ok '^h1 .*Protocol Version: 5  Available Protocol Range: \[2, 5\]$' members -detailed
serf_ok '"name": "h2"' members -format json
serf_ok '^h2 ' members -status alive -name 'h[0-9]'
out=$(serf members -tag 'role=(')
same "serf members: bad regexp" "$out" "Error retrieving members: client closed"
# RE2 syntax (Serf's regexps) goes through mod_tags: h1 answers as s1 does
for f in "-name h\\d" "-tag role=(?:web|db)" "-tag role=(?i)WEB" "-status al\\w+" "-name (?:s|h)1"; do
    # shellcheck disable=SC2086
    HO=$(serf members $f | awk '{print $1}' | sort | tr '\n' ' ')
    # shellcheck disable=SC2086
    SO=$(serf members -rpc-addr "$s1_RPC" $f | awk '{print $1}' | sort | tr '\n' ' ')
    same "members $f: hamletd lists what serf lists [$SO]" "$HO" "$SO"
done
both members
same "hamlet = serf: members" "$(sortlines "$HO")" "$(sortlines "$SO")"
both members -format json
same "hamlet = serf: members -format json" "$(norm_members "$HO")" "$(norm_members "$SO")"
SO=$(serf members -rpc-addr "$s1_RPC" -format json)
HO=$(serf members -format json)
same "hamletd and serf agree on the member list" "$(norm_members "$HO")" "$(norm_members "$SO")"

# --- info, rtt, reachability ---------------------------------------------------------
serf info > "$dir/info"
for s in agent runtime serf tags; do
    grep -q "^$s:\$" "$dir/info"; check $? "serf info: section $s"
done
grep -q '^	name = h1$' "$dir/info"; check $? "serf info: agent name"
both info -format json
same "hamlet = serf: info -format json (sections)" \
    "$(printf '%s' "$HO" | $PY -c 'import json,sys; print(sorted(json.load(sys.stdin)))')" \
    "$(printf '%s' "$SO" | $PY -c 'import json,sys; print(sorted(json.load(sys.stdin)))')"
poll 20 serf rtt h1 s1; check $? "serf rtt h1 s1"
serf_ok '^Estimated s1 <-> h1 rtt: [0-9]+\.[0-9]{3} ms$' rtt s1
out=$(serf rtt nobody)
same "serf rtt: unknown node" "$out" 'Could not find a coordinate for node "nobody"'
serf_ok '^Successfully contacted all live nodes$' reachability
both reachability
same "hamlet = serf: reachability" "$HO" "$SO"
# each RPC connection is logged at INFO, as a serf agent's agent.ipc does
grep -q '\[INFO\] agent\.ipc: Accepted client: 127\.0\.0\.1:[0-9]' "$dir/s1.log" &&
    grep -q '\[INFO\] rpc: Accepted client: 127\.0\.0\.1:[0-9]' "$dir/h1.log"
check $? "Accepted client: ADDR logged at INFO, as serf does"

# --- event, query, tags ---------------------------------------------------------------
serf_ok "^Event 'hev' dispatched! Coalescing enabled: true$" event hev payload
poll 10 grep -q 'user-event: hev' "$dir/s1.log"; check $? "event via hamletd reaches serf agent s1"
serf_ok 'Coalescing enabled: false' event -coalesce=false hev2
big=$(head -c 600 /dev/zero | tr '\0' x)
out=$(serf event big "$big"); sout=$(serf event -rpc-addr "$s1_RPC" big "$big")
same "serf event: too large, same error as a serf agent" "$out" "$sout"
big=$(head -c 1100 /dev/zero | tr '\0' x)
out=$(serf query -timeout 1s big "$big"); sout=$(serf query -rpc-addr "$s1_RPC" -timeout 1s big "$big")
same "serf query: too large, same error as a serf agent" "$out" "$sout"
out=$(serf tags -set "big=$big"); sout=$(serf tags -rpc-addr "$s1_RPC" -set "big=$big")
same "serf tags: too large, same error as a serf agent" "$out" "$sout"
serf_ok '^Total Acks: 3$' query -timeout 2s hq
serf_ok "^Ack from 's1'$" query -timeout 2s -tag role=db hq
serf_ok '^Total Responses: 0$' query -timeout 1s -no-ack -node h2 hq
serf_ok '"Acks": \[' query -timeout 1s -format json hq
out=$(serf query _serf_nope)
same "serf query: reserved prefix" "$out" "Error sending query: Queries cannot contain the '_serf_' prefix"
serf_ok '^Successfully updated agent tags$' tags -set colour=blue -delete dc
tagged() { serf members -rpc-addr "$s1_RPC" -name h1 -tag colour=blue | grep -q h1; }
poll 20 tagged; check $? "serf agent s1 sees the tag set on h1 through RPC"

# --- join, keys, monitor --------------------------------------------------------------
serf_ok '^Successfully joined cluster by contacting 1 nodes\.$' join "$s1_BIND"
out=$(serf join 127.0.0.1:1); rc=$?
[ $rc = 1 ] && printf '%s\n' "$out" | grep -q '^Error joining the cluster: '
check $? "serf join: failure"
out=$(serf keys -list); rc=$?
[ $rc = 1 ] && printf '%s\n' "$out" | grep -q '^Failed to gather member keys: '
check $? "serf keys -list on a cluster without encryption"
serf monitor -log-level debug > "$dir/mon" &
mpid=$!
poll 10 grep -q '\[' "$dir/mon"; check $? "serf monitor: log lines"
serf event mon-ev >/dev/null
poll 10 grep -q 'mon-ev' "$dir/mon"; check $? "serf monitor: the event"
start_serf s4 -join "$h1_BIND"; check $? "serf agent s4 joins while monitoring"
poll 20 grep -q 'Event: "member-join"' "$dir/mon"; check $? "serf monitor: member-join streamed"
grep -q '"Name":"s4"' "$dir/mon"; check $? "serf monitor: the joining member"
kill -INT $mpid; wait $mpid; check $? "serf monitor: Ctrl-C"

# --- raw sessions ---------------------------------------------------------------------
start_hamletd h3 -rpc-auth s3cret; check $? "hamletd h3 with an RPC token up"
$PY "$top_srcdir/t/rpc_proto.py" "$h1_RPC" "$h3_RPC" s3cret > "$dir/proto" 2>&1
relay proto "$dir/proto"
[ "$(grep -c '^ok - ' "$dir/proto")" -ge 40 ]; check $? "proto: all raw checks ran"
kill -0 "$h1_PID"; check $? "hamletd still running after the abuse"
out=$(serf members -rpc-addr "$h3_RPC")
same "auth: token required" "$out" "Error retrieving members: Authentication required"
serf_ok '^h3 ' members -rpc-addr "$h3_RPC" -rpc-auth s3cret

# --- leave, force-leave -----------------------------------------------------------------
out=$(serf leave -rpc-addr "$h2_RPC"); same "serf leave (h2)" "$out" "Graceful leave complete"
exited() { ! kill -0 "$h2_PID" 2>/dev/null; }
poll 20 exited; check $? "h2 exits after leave"
left() { serf members -rpc-addr "$s1_RPC" -status left -name h2 | grep -q h2; }
poll 20 left; check $? "serf agent s1 sees h2 left"
out=$(serf force-leave nosuch); rc=$?
[ $rc = 0 ] && [ -z "$out" ]; check $? "serf force-leave: unknown node"
serf force-leave -prune h2; check $? "serf force-leave -prune h2"
gone() { ! serf members -name h2 | grep -q h2; }
poll 20 gone; check $? "h2 pruned from h1's member list"

done_testing
