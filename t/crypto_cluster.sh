#!/bin/sh
# An encrypted mixed cluster: serf agent s1 and hamletd h1 (mod_crypto,
# keyring file) converge; a serf node with a wrong key and a plaintext serf
# node cannot join h1 (and h1 logs the drops); a full key rotation driven by
# `serf keys` through s1 reaches h1 (answers and keyring file), and a serf
# node holding only the new key then joins h1; a second rotation is driven
# through hamletd's own RPC (serf keys and hamlet keys against h1).
. "${top_srcdir:-.}/t/lib.sh"
K1=5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=
K2=QHOYjmYlxSCBhdfiolhtDQ==
K3=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
tap_init crypto-cluster 24000
alive_in() { # alive_in RPCADDR NODE
    serf members -rpc-addr="$1" -status=alive 2>/dev/null | grep -q "^$2 "
}
members_s1() { serf members -rpc-addr="127.0.66.1:$rpc" 2>/dev/null; }

serf agent -node=s1 -bind="127.0.66.1:$port" -rpc-addr="127.0.66.1:$rpc" -encrypt=$K1 \
    >"$dir/s1.log" 2>&1 &
pids="$pids $!"
until_ok serf members -rpc-addr="127.0.66.1:$rpc"

printf '["%s"]' "$K1" >"$dir/h1.keyring"
"$HAMLETD" -node=h1 -bind="127.0.66.2:$port" -rpc-addr="127.0.66.2:$rpc" -module-path="$MODS" \
    -keyring-file="$dir/h1.keyring" -join="127.0.66.1:$port" -log-level=debug \
    >"$dir/h1.log" 2>&1 &
h1=$!
pids="$pids $h1"
until_ok alive_in "127.0.66.1:$rpc" h1
check $? "encrypted: serf s1 sees hamletd h1 alive"
grep -q "EventMemberJoin: s1" "$dir/h1.log"
check $? "hamletd h1 saw s1 join"

# A wrong key and no key at all: cannot join h1.
serf agent -node=s3 -bind="127.0.66.3:$port" -rpc-addr="127.0.66.3:$rpc" -encrypt=$K3 \
    >"$dir/s3.log" 2>&1 &
pids="$pids $!"
serf agent -node=s4 -bind="127.0.66.4:$port" -rpc-addr="127.0.66.4:$rpc" \
    >"$dir/s4.log" 2>&1 &
pids="$pids $!"
until_ok serf members -rpc-addr="127.0.66.3:$rpc"
until_ok serf members -rpc-addr="127.0.66.4:$rpc"
serf join -rpc-addr="127.0.66.3:$rpc" "127.0.66.2:$port" >"$dir/j3.out" 2>&1
check $((! $?)) "serf with a wrong key cannot join h1"
serf join -rpc-addr="127.0.66.4:$rpc" "127.0.66.2:$port" >"$dir/j4.out" 2>&1
check $((! $?)) "plaintext serf cannot join h1"
grep -q "No installed keys could decrypt the message" "$dir/h1.log"
check $? "h1 logged the undecryptable stream"
grep -q "Encryption is configured but remote state is not encrypted" "$dir/h1.log"
check $? "h1 logged the plaintext stream"
members_s1 | grep -q '^s[34] '
check $((! $?)) "neither got into the cluster"
kill -USR1 "$h1"
until_ok grep -q "metric crypto.streams_bad = [1-9]" "$dir/h1.log"
check $? "the wrong-key stream is counted (SIGUSR1 metrics: crypto.streams_bad)"
until_ok grep -q "metric crypto.streams_plain_dropped = [1-9]" "$dir/h1.log"
check $? "the plaintext stream is counted (crypto.streams_plain_dropped)"

# Rotation through serf's KeyManager on s1.
out=$(serf keys -rpc-addr="127.0.66.1:$rpc" -list 2>&1)
echo "$out" | grep -q "$K1  \[2/2\]"
check $? "list-keys: both nodes hold K1 [2/2]"
serf keys -rpc-addr="127.0.66.1:$rpc" -install=$K2 >"$dir/k.out" 2>&1
check $? "install K2 on all members"
serf keys -rpc-addr="127.0.66.1:$rpc" -use=$K2 >>"$dir/k.out" 2>&1
check $? "use K2 on all members"
serf keys -rpc-addr="127.0.66.1:$rpc" -remove=$K1 >>"$dir/k.out" 2>&1
check $? "remove K1 on all members"
out=$(serf keys -rpc-addr="127.0.66.1:$rpc" -list 2>&1)
[ "$(echo "$out" | grep -c '\[')" = 1 ] && echo "$out" | grep -q "$K2  \[2/2\]"
check $? "list-keys: only K2, on both nodes"
[ "$(cat "$dir/h1.keyring")" = "$(printf '[\n  "%s"\n]' "$K2")" ]
check $? "h1's keyring file holds only K2, in Serf's format"
serf keys -rpc-addr="127.0.66.1:$rpc" -remove=$K2 >"$dir/k2.out" 2>&1
check $((! $?)) "removing the primary fails"
grep -q "h1  Removing the primary key is not allowed" "$dir/k2.out"
check $? "h1 reports Serf's reason"

# The cluster now speaks K2 only: a node holding just K2 joins through h1.
serf agent -node=s5 -bind="127.0.66.5:$port" -rpc-addr="127.0.66.5:$rpc" -encrypt=$K2 \
    -join="127.0.66.2:$port" >"$dir/s5.log" 2>&1 &
pids="$pids $!"
until_ok alive_in "127.0.66.1:$rpc" s5
check $? "a K2-only serf node joined through h1 and s1 sees it"
until_ok alive_in "127.0.66.5:$rpc" h1
check $? "s5 sees h1 alive"
# Rotation back to K1, driven through hamletd's RPC (mod_crypto's KeyManager).
H1RPC="127.0.66.2:$rpc"
serf keys -rpc-addr="$H1RPC" -install=$K1 >"$dir/r.out" 2>&1
check $? "serf keys -install through h1"
"$HAMLET" keys -rpc-addr="$H1RPC" -use=$K1 >>"$dir/r.out" 2>&1
check $? "hamlet keys -use through h1"
serf keys -rpc-addr="$H1RPC" -remove=$K2 >>"$dir/r.out" 2>&1
check $? "serf keys -remove through h1"
out=$(serf keys -rpc-addr="$H1RPC" -list 2>&1)
[ "$(echo "$out" | grep -c '\[')" = 1 ] && echo "$out" | grep -q "$K1  \[3/3\]"
check $? "list-keys through h1: only K1, on all 3 nodes"
out=$(serf keys -rpc-addr="127.0.66.5:$rpc" -list 2>&1)
echo "$out" | grep -q "$K1  \[3/3\]"
check $? "serf s5 agrees"
[ "$(cat "$dir/h1.keyring")" = "$(printf '[\n  "%s"\n]' "$K1")" ]
check $? "h1's keyring file holds only K1"
serf keys -rpc-addr="$H1RPC" -use=$K3 >"$dir/r3.out" 2>&1
check $((! $?)) "using an unknown key through h1 fails"
grep -q "3/3 nodes reported failure" "$dir/r3.out"
check $? "with Serf's tally (3/3 nodes reported failure)"
until_ok alive_in "127.0.66.1:$rpc" h1 && until_ok alive_in "127.0.66.5:$rpc" s1
check $? "the cluster still converged on K1"
kill -0 "$h1" 2>/dev/null
check $? "hamletd still running"
done_testing
