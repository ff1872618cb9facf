#!/bin/sh
# Keyring commands over RPC in an encrypted mixed cluster: `serf keys` and
# `hamlet keys` against hamletd (mod_rpc dispatching to mod_crypto through
# <hamlet/rpc.h>) and against a serf agent print the same and see the same
# keys.
. "$top_srcdir/t/rpc_lib.sh"

K1=$($H keygen); K2=$($H keygen)
start_hamletd h1 -encrypt "$K1"; check $? "hamletd h1 (encrypted) up"
start_serf s1 -encrypt "$K1" -join "$h1_BIND"; check $? "serf agent s1 (encrypted) joined h1"
poll 20 has_alive "$h1_RPC" 2; check $? "h1 sees 2 alive members"

on() { # on ADDR CLIENT keys ARGS...
    _a=$1; _c=$2; shift 2
    if [ "$_c" = hamlet ]; then $H "$@" -rpc-addr "$_a"; else serf "$@" -rpc-addr "$_a"; fi
}
step() { # step DESC keys-args...: serf and hamlet on h1 print the same
    _d=$1; shift
    SO=$(on "$h1_RPC" serf "$@"); SRC=$?
    HO=$(on "$h1_RPC" hamlet "$@"); HRC=$?
    same "$_d: hamlet = serf on hamletd" "$(sortlines "$HO")" "$(sortlines "$SO")"
    [ $SRC = $HRC ]; check $? "$_d: same exit code ($SRC)"
}

step "keys -list" keys -list
printf '%s\n' "$SO" | grep -q "^$K1  \[2/2\]\$"; check $? "keys -list: K1 on 2/2 nodes"
SA=$(serf keys -list -rpc-addr "$s1_RPC")
same "keys -list: hamletd and serf agent answer alike" "$(sortlines "$SO")" "$(sortlines "$SA")"
step "keys -install" keys -install "$K2"
printf '%s\n' "$SO" | grep -q '^==> Successfully installed key!$'; check $? "keys -install succeeded"
SO=$(serf keys -list -rpc-addr "$s1_RPC")
printf '%s\n' "$SO" | grep -q "^$K2  \[2/2\]\$"; check $? "the serf agent holds the new key"
step "keys -use" keys -use "$K2"
step "keys -remove K1" keys -remove "$K1"
SO=$(serf keys -list -rpc-addr "$h1_RPC")
printf '%s\n' "$SO" | grep -q "$K1"; [ $? = 1 ]; check $? "K1 gone from the cluster"
step "keys -remove primary (refused)" keys -remove "$K2"
[ $SRC = 1 ]; check $? "removing the primary key fails"
SO=$(serf keys -list -rpc-addr "$h1_RPC")
printf '%s\n' "$SO" | grep -q "^$K2  \[2/2\]\$"; check $? "K2 still everywhere"
step "keys -install bad key" keys -install 'not!base64'
step "keys with two actions" keys -list -use "$K2"
poll 20 has_alive "$h1_RPC" 2; check $? "cluster still whole after rotation"

done_testing
