#!/bin/sh
# Rolling a cluster onto encryption, first step: hamletd holds the key but
# neither verifies incoming nor encrypts outgoing traffic, so a plaintext
# serf node and it form a cluster; the plaintext it accepted is counted.
# Then the same hamletd with the defaults (both on) refuses that node.
. "${top_srcdir:-.}/t/lib.sh"
K1=5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=
tap_init crypto-rolling 29000
S1="127.0.72.1:$rpc"
alive() { serf members -rpc-addr="$S1" -status=alive | grep -q "^$1 "; }
conf() { # conf NAME VERIFY
    cat >"$dir/$1.yaml" <<YAML
node_name: $1
bind: "127.0.72.2:$port"
join: ["127.0.72.1:$port"]
module_path: ["$MODS"]
rpc:
  addr: "127.0.72.2:$rpc"
crypto:
  encrypt_key: "$K1"
  verify_incoming: $2
  verify_outgoing: $2
YAML
}

serf agent -node=s1 -bind="127.0.72.1:$port" -rpc-addr="$S1" >"$dir/s1.log" 2>&1 &
pids="$pids $!"
until_ok serf members -rpc-addr="$S1" || bail "serf up"

conf h1 false
"$HAMLETD" -c "$dir/h1.yaml" >"$dir/h1.log" 2>&1 &
h1=$!
pids="$pids $h1"
until_ok alive h1
check $? "verify off: plaintext serf s1 and keyed hamletd h1 converge"
until_ok grep -q "EventMemberJoin: s1" "$dir/h1.log"
check $? "h1 saw s1"
# ask for the metrics until the first probes have arrived
plain_counted() {
    kill -USR1 "$h1"
    grep -q "metric crypto.packets_plain_passed = [1-9]" "$dir/h1.log"
}
until_ok plain_counted
check $? "plaintext packets accepted and counted"
kill -9 "$h1"
wait "$h1" 2>/dev/null

conf h2 true
"$HAMLETD" -c "$dir/h2.yaml" >"$dir/h2.log" 2>&1 &
h2=$!
pids="$pids $h2"
# h2 cannot join: s1 does not understand its encrypted join, so it exits.
until_ok sh -c "! kill -0 $h2"
check $? "verify on: the keyed hamletd cannot join the plaintext node"
grep -q "Error joining the cluster" "$dir/h2.log"
check $? "and says so"
done_testing
