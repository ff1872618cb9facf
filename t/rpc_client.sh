#!/bin/sh
# Every `hamlet` subcommand against real `serf agent`s on 127.0.0.1, with
# its output compared to the real `serf` CLI's on the same agent wherever
# the output is deterministic (after sorting where Serf's order is random).
. "$top_srcdir/t/rpc_lib.sh"

first() { printf '%s\n' "$1" | head -1; }
norm_query() {
    printf '%s' "$1" | $PY -c '
import json, sys
d = json.load(sys.stdin)
if d["Acks"]: d["Acks"].sort()
print(json.dumps(d, sort_keys=True))'
}
# info: every section and key, plus the values that cannot move
norm_info() {
    printf '%s' "$1" | $PY -c '
import json, sys
d = json.load(sys.stdin)
out = {s: sorted(v) for s, v in d.items()}
out["agent"] = d["agent"]; out["tags"] = d["tags"]
print(json.dumps(out, sort_keys=True))'
}

start_serf n1 -tag role=web -tag dc=east
check $? "serf agent n1 up"
start_serf n2 -tag role=db -join "$n1_BIND"
start_serf n3 -join "$n1_BIND"
poll 20 has_alive "$n1_RPC" 3; check $? "three serf agents see each other"
export SERF_RPC_ADDR=$n1_RPC

# --- members -------------------------------------------------------------
both members
same "members: text (sorted lines)" "$(sortlines "$HO")" "$(sortlines "$SO")"
[ $HRC = 0 ] && [ "$(printf '%s\n' "$HO" | wc -l)" = 3 ]; check $? "members: 3 lines, exit 0"
both members -detailed
same "members -detailed" "$(sortlines "$HO")" "$(sortlines "$SO")"
both members -format json
same "members -format json" "$(norm_members "$HO")" "$(norm_members "$SO")"
both members -tag role=db
same "members -tag role=db" "$HO" "$SO"
printf '%s' "$HO" | grep -q '^n2 '; check $? "members -tag selects n2"
both members -status alive -name 'n[12]'
same "members -status -name" "$(sortlines "$HO")" "$(sortlines "$SO")"
both members -name nobody -format json
same "members: no match in json" "$HO" "$SO"
both members -role web
same "members -role (deprecated)" "$(sortlines "$HO")" "$(sortlines "$SO")"
both members -tag 'role=('
same "members: bad regexp" "$HO" "$SO"
[ $HRC = 1 ]; check $? "members: bad regexp exits 1"
both members -format xml
same "members: bad format" "$HO" "$SO"
both members -tag noequals
same "members: bad tag flag" "$HO" "$SO"

# --- info, rtt, reachability -------------------------------------------------
both info -format json
same "info -format json (keys and fixed values)" "$(norm_info "$HO")" "$(norm_info "$SO")"
both info
same "info: section lines" "$(printf '%s\n' "$HO" | grep -v '^	')" \
    "$(printf '%s\n' "$SO" | grep -v '^	')"
poll 20 serf rtt n2; check $? "serf has a coordinate for n2"
HO=$($H rtt n2); HRC=$?
printf '%s\n' "$HO" | grep -Eq '^Estimated n2 <-> n1 rtt: [0-9]+\.[0-9]{3} ms$'
check $? "rtt with one node ($HO)"
poll 20 serf rtt n2 n3
HO=$($H rtt n2 n3)
printf '%s\n' "$HO" | grep -Eq '^Estimated n2 <-> n3 rtt: [0-9]+\.[0-9]{3} ms$'
check $? "rtt with two nodes"
both rtt n1 nosuch
same "rtt: unknown node" "$HO" "$SO"
[ $HRC = 1 ]; check $? "rtt: unknown node exits 1"
both rtt
same "rtt: no node" "$(first "$HO")" "$(first "$SO")"
both reachability
same "reachability" "$HO" "$SO"
[ $HRC = 0 ]; check $? "reachability exits 0"
HO=$($H reachability -verbose)
[ "$(printf '%s\n' "$HO" | grep -c "^	Ack from 'n[123]'$")" = 3 ]
check $? "reachability -verbose lists 3 acks"

# --- event ------------------------------------------------------------------
both event hamlet-ev payload1
same "event" "$HO" "$SO"
poll 10 grep -q 'user-event: hamlet-ev' "$dir/n2.log"; check $? "event reached n2"
both event -coalesce=false solo
same "event -coalesce=false" "$HO" "$SO"
both event
same "event: no name" "$(first "$HO")" "$(first "$SO")"
HO=$($H event toolong "$(head -c 600 /dev/zero | tr '\0' x)"); HRC=$?
SO=$(serf event toolong "$(head -c 600 /dev/zero | tr '\0' x)")
same "event: too large" "$HO" "$SO"

# --- tags -------------------------------------------------------------------
both tags -set colour=blue -set size=xl
same "tags -set" "$HO" "$SO"
both tags -delete size
same "tags -delete" "$HO" "$SO"
tagged() { serf members -rpc-addr "$n2_RPC" -name n1 -tag colour=blue | grep -q n1; }
poll 10 tagged; check $? "n2 sees the tag set by hamlet on n1"
both tags
same "tags: nothing to do" "$(printf '%s\n' "$HO" | tail -n +3 | head -1 | cut -c1-2)" \
    "$(printf '%s\n' "$SO" | tail -n +3 | head -1 | cut -c1-2)"
[ $HRC = 1 ]; check $? "tags without flags exits 1"

# --- query ------------------------------------------------------------------
both query -timeout 1s hq payload
same "query text (sorted)" "$(sortlines "$HO")" "$(sortlines "$SO")"
printf '%s\n' "$HO" | grep -q '^Total Acks: 3$'; check $? "query: 3 acks"
both query -timeout 1s -format json hq
same "query -format json" "$(norm_query "$HO")" "$(norm_query "$SO")"
both query -timeout 1s -no-ack -node n2 hq
same "query -no-ack -node" "$HO" "$SO"
both query -timeout 1s -tag role=db -relay-factor 2 hq
same "query -tag -relay-factor" "$(sortlines "$HO")" "$(sortlines "$SO")"
printf '%s\n' "$HO" | grep -q "^Ack from 'n2'$"; check $? "query -tag: n2 acked"
both query _serf_nope
same "query: reserved prefix" "$HO" "$SO"
both query -relay-factor 300 x
same "query: relay factor range" "$HO" "$SO"
both query -timeout bogus x 2>/dev/null
[ $HRC = 1 ] && [ $SRC = 1 ]; check $? "query: bad duration exits 1"

# --- join, force-leave --------------------------------------------------------
both join "$n3_BIND"
same "join" "$HO" "$SO"
both join -replay "$n2_BIND"
same "join -replay" "$HO" "$SO"
both join 127.0.0.1:1
same "join: failure" "$HO" "$SO"
both join
same "join: no address" "$(first "$HO")" "$(first "$SO")"
both force-leave nosuch
same "force-leave: unknown node" "$HO" "$SO"
[ $HRC = 0 ]; check $? "force-leave exits 0"

kill -9 "$n3_PID"
failed() { serf members -status failed -name n3 | grep -q n3; }
poll 30 failed; check $? "n3 seen failed after kill"
HO=$($H force-leave -prune n3); HRC=$?
[ $HRC = 0 ] && [ -z "$HO" ]; check $? "force-leave -prune: silent success"
gone() { ! serf members -name n3 | grep -q n3; }
poll 20 gone; check $? "n3 pruned from the member list"

# --- monitor ----------------------------------------------------------------
$H monitor -log-level debug > "$dir/mon.out" &
mpid=$!
poll 10 grep -q '^20.* \[' "$dir/mon.out"; check $? "monitor: log lines replayed"
serf event mon-ev >/dev/null
poll 10 grep -q 'Name: "mon-ev"' "$dir/mon.out"; check $? "monitor: event info printed"
kill -INT $mpid; wait $mpid; check $? "monitor: Ctrl-C exits 0"
grep -q '^Event Info:$' "$dir/mon.out"; check $? "monitor: Event Info header"
both monitor -log-level bogus
same "monitor: bad level" "$HO" "$SO"

# --- leave ------------------------------------------------------------------
# A leave is graceful only for members the leaver sees alive: serf's Leave()
# broadcasts the leave intent (and memberlist's dead-self message) only if
# some other member is alive in its own list.  Under load n2 may have marked
# n1 failed for a while (probe timeouts, before n1 refutes); leaving then,
# n2 tells nobody and n1 later sees n2 *failed*, for good.  So the leave
# waits until n1 and n2 see each other alive.
alive_in() { serf members -rpc-addr "$1" -status alive -name "$2" | grep -q "^$2 "; }
mutual() { alive_in "$n2_RPC" n1 && alive_in "$n1_RPC" n2; }
$H monitor -rpc-addr "$n2_RPC" > "$dir/mon2.out" &
m2pid=$!
poll 10 grep -q '\[' "$dir/mon2.out"; check $? "monitor attached to n2"
poll 30 mutual; check $? "n1 and n2 see each other alive before the leave"
HO=$($H leave -rpc-addr "$n2_RPC"); HRC=$?
same "leave" "$HO" "Graceful leave complete"
exited() { ! kill -0 "$n2_PID" 2>/dev/null; }
poll 20 exited; check $? "n2 exited after leave"
wait $m2pid; [ $? = 1 ]; check $? "monitor exits 1 when the agent goes away"
grep -q '^Remote side ended the monitor! This usually means that the$' "$dir/mon2.out"
check $? "monitor: remote side ended message"
left() { serf members -status left -name n2 | grep -q n2; }
poll 30 left; check $? "n1 sees n2 left"

# --- keys and auth on an encrypted agent with an RPC token ---------------------
K1=$($H keygen); K2=$($H keygen)
echo '{"rpc_auth": "s3cret"}' > "$dir/auth.json"
start_serf n4 -encrypt "$K1" -config-file "$dir/auth.json"
check $? "serf agent n4 (encrypted, rpc_auth) up"
export SERF_RPC_ADDR=$n4_RPC
both members
same "auth: token required" "$HO" "$SO"
both members -rpc-auth wrong
same "auth: wrong token" "$HO" "$SO"
HO=$(SERF_RPC_AUTH=s3cret $H members -format json); SO=$(SERF_RPC_AUTH=s3cret serf members -format json)
same "auth: SERF_RPC_AUTH" "$HO" "$SO"
export SERF_RPC_AUTH=s3cret
both keys -list
same "keys -list" "$HO" "$SO"
both keys -install "$K2"
same "keys -install" "$HO" "$SO"
both keys -list
same "keys -list (two keys)" "$(sortlines "$HO")" "$(sortlines "$SO")"
[ "$(printf '%s\n' "$HO" | grep -c '\[1/1\]')" = 2 ]; check $? "keys -list shows 2 keys"
both keys -use "$K2"
same "keys -use" "$HO" "$SO"
both keys -remove "$K2"
same "keys -remove primary: refused" "$HO" "$SO"
[ $HRC = 1 ]; check $? "keys -remove primary exits 1"
HO=$($H keys -remove "$K1"); HRC=$?
same "keys -remove" "$HO" "==> Removing key on all members...
==> Successfully removed key!"
both keys -install 'not!base64'
same "keys: bad key" "$HO" "$SO"
both keys -list -install "$K1"
same "keys: two actions" "$HO" "$SO"
unset SERF_RPC_AUTH
both keys -list -rpc-addr "$n1_RPC"
same "keys on a cluster without encryption" "$HO" "$SO"

done_testing
