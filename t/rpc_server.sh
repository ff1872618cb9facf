#!/bin/sh
# mod_rpc driven by the real `serf` CLI (every subcommand that talks to an
# agent), by `hamlet` (same output as serf's on the same server), and by raw
# sessions (t/rpc_proto.py).  The server runs in t/rpc_harness: the real
# core and module loader with a scripted cluster, until hamletd runs one.
. "$top_srcdir/t/rpc_lib.sh"

start_harness() { # NAME [AUTH]: sets ${NAME}_ADDR, ${NAME}_PID
    _p=$(free_port)
    # (a small ASan quarantine, so that the flood check measures us, not it)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4" \
        "$top_builddir/t/rpc_harness" "$_p" $2 > "$dir/$1.out" 2> "$dir/$1.log" &
    _pid=$!
    pids="$pids $_pid"
    eval "${1}_ADDR=127.0.0.1:$_p ${1}_PID=$_pid"
    poll 10 grep -q ready "$dir/$1.out"
}

start_harness h1; check $? "harness with mod_rpc up"
start_harness h2 s3cret; check $? "harness with an auth key up"
export SERF_RPC_ADDR=$h1_ADDR

# --- every serf subcommand against mod_rpc --------------------------------------
serf_ok '^n2  127\.0\.0\.1:7947  alive  role=db$' members
serf_ok 'Protocol Version: 5  Available Protocol Range: \[2, 5\]' members -detailed
serf_ok '"name": "n4"' members -format json
serf_ok '^n2 ' members -tag role=db
serf_ok '^n4  127\.0\.0\.1:7949  left$' members -status left
serf_ok '^n1 ' members -name 'n[1]'
out=$(serf members -tag 'role=(')
same "serf members: bad regexp ends the connection" "$out" "Error retrieving members: client closed"
serf_ok "^Event 'deploy' dispatched! Coalescing enabled: true$" event deploy v1
serf_ok "Coalescing enabled: false" event -coalesce=false deploy
out=$(serf event big "$(head -c 600 /dev/zero | tr '\0' x)")
same "serf event: too large refused, with the core's text" "$out" \
    "Error sending event: user event exceeds configured limit of 512 bytes before encoding"
serf_ok '^Successfully updated agent tags$' tags -set colour=blue -delete dc
serf_ok 'colour=blue' members -name n1
serf_ok '^Total Acks: 3$' query -timeout 300ms q1 payload
serf_ok "^Response from 'n2': resp-from-n2$" query -timeout 300ms q1
serf_ok '"n2": "resp-from-n2\\n"' query -timeout 300ms -format json q1
serf_ok '^Total Responses: 0$' query -timeout 200ms -no-ack -node n3 q1
serf_ok "^Ack from 'n2'$" query -timeout 200ms -tag role=db q1
out=$(serf query _serf_nope)
same "serf query: reserved prefix" "$out" "Error sending query: Queries cannot contain the '_serf_' prefix"
serf_ok '^Successfully contacted all live nodes$' reachability
serf_ok "^	Ack from 'n3'$" reachability -verbose
serf_ok '^Estimated n2 <-> n1 rtt: 0\.700 ms$' rtt n2
serf_ok '^Estimated n2 <-> n3 rtt: 0\.700 ms$' rtt n2 n3
out=$(serf rtt n1 nobody)
same "serf rtt: unknown node" "$out" 'Could not find a coordinate for node "nobody"'
serf_ok '^Successfully joined cluster by contacting 2 nodes\.$' join 127.0.0.1:7000 127.0.0.1:7001
serf_ok 'contacting 1 nodes' join -replay 127.0.0.1:7000
out=$(serf join 127.0.0.1:1)
printf '%s\n' "$out" | grep -q '^Error joining the cluster: 1 error occurred:$'
check $? "serf join: failure text"
out=$(serf keys -list)
printf '%s\n' "$out" | grep -q '^failed:  n1  Keyring is empty (encryption not enabled)$'
check $? "serf keys -list without crypto module"
out=$(serf keys -install "$($H keygen)")
printf '%s\n' "$out" | grep -q '^Error installing key: 1/1 nodes reported failure$'
check $? "serf keys -install without crypto module"
serf info > "$dir/info"
grep -q '^	name = n1$' "$dir/info" && grep -q '^tags:$' "$dir/info"
check $? "serf info"
serf_ok '"user:deploy": "/bin/true"' info -format json
out=$(serf force-leave nosuch); same "serf force-leave: unknown node" "$out" ""
serf force-leave n3; check $? "serf force-leave n3"
serf_ok '^n3  127\.0\.0\.1:7948  left' members -name n3
serf force-leave -prune n4; check $? "serf force-leave -prune"
out=$(serf members -name n4); same "pruned member gone" "$out" ""

serf monitor -log-level debug > "$dir/mon" &
mpid=$!
poll 10 grep -q 'RPC listening' "$dir/mon"; check $? "serf monitor: log replayed"
serf event mon-ev >/dev/null
poll 10 grep -q 'mon-ev' "$dir/mon"; check $? "serf monitor: event streamed"
kill -INT $mpid; wait $mpid; check $? "serf monitor: Ctrl-C"

# --- hamlet and serf print the same against mod_rpc -------------------------------
for args in "members" "members -detailed" "members -format json" "members -status alive" \
            "info" "info -format json" "rtt n1 n2" "query -timeout 300ms hq" \
            "query -timeout 300ms -format json hq" "reachability" "keys -list" \
            "join 127.0.0.1:1" "event same" "tags -set k=v"; do
    # shellcheck disable=SC2086
    both $args
    same "hamlet = serf on mod_rpc: $args" "$(sortlines "$HO")" "$(sortlines "$SO")"
done

# --- auth ------------------------------------------------------------------
out=$(serf members -rpc-addr "$h2_ADDR")
same "auth: token required" "$out" "Error retrieving members: Authentication required"
out=$(serf members -rpc-addr "$h2_ADDR" -rpc-auth nope)
same "auth: wrong token" "$out" "Error connecting to Serf agent: Invalid authentication token"
serf_ok '^n1 ' members -rpc-addr "$h2_ADDR" -rpc-auth s3cret
HO=$($H members -rpc-addr "$h2_ADDR" -rpc-auth s3cret)
SO=$(serf members -rpc-addr "$h2_ADDR" -rpc-auth s3cret)
same "auth: hamlet = serf" "$(sortlines "$HO")" "$(sortlines "$SO")"

# --- raw sessions: session rules, streams, bad input, many clients ----------------
$PY "$top_srcdir/t/rpc_proto.py" "$h1_ADDR" "$h2_ADDR" s3cret > "$dir/proto" 2>&1
relay proto "$dir/proto"
[ "$(grep -c '^ok - ' "$dir/proto")" -ge 40 ]; check $? "proto: all raw checks ran"
kill -0 "$h1_PID"; check $? "server still running after the abuse"
$PY "$top_srcdir/t/rpc_flood.py" "$h1_ADDR" "$h1_PID" 200000 > "$dir/flood" 2>&1
relay flood "$dir/flood"
[ "$(grep -c '^ok - ' "$dir/flood")" = 3 ]; check $? "flood: all checks ran"

# --- leave --------------------------------------------------------------------
out=$(serf leave); same "serf leave" "$out" "Graceful leave complete"
exited() { ! kill -0 "$h1_PID" 2>/dev/null; }
poll 10 exited; check $? "server exits after leave"

done_testing
