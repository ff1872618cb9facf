#!/bin/sh
# Drop-in: hamletd started with only `serf agent` flags (no YAML) loads the
# rpc module on its own (and tags when built), serves RPC where -rpc-addr
# says, and both the real `serf` client and `hamlet` list it with its tags.
# Polls with deadlines; never sleeps its way to a result.
. "${top_srcdir:-.}/t/lib.sh"
tap_init dropin

# a fresh 127.x.y.z address: the default ports can then stay the defaults
A=$(fresh_addr 127)
FLAGS="-node d1 -bind $A -rpc-addr $A:7373 -tag role=web -tag dc=east"

# shellcheck disable=SC2086
mods=$("$HAMLETD" $FLAGS -T | sed -n '/^modules:/,/^[a-z#]/p' | grep '^  - ' | tr -d ' "-' | tr '\n' ' ')
case "$mods" in rpc*) ok "serf flags alone load rpc first (modules: $mods)" ;; *) notok "modules: $mods" ;; esac
if [ -f "$top_builddir/modules/mod_tags.so" ]; then
    case "$mods" in *tags*) ok "and tags" ;; *) notok "tags loaded" ;; esac
fi
# shellcheck disable=SC2086
out=$("$HAMLETD" $FLAGS -T | sed -n '/^rpc:/,/^[a-z]/p' | grep '^  addr:' | tr -d ' ')
[ "$out" = 'addr:"'"$A"':7373"' ] && ok "-rpc-addr lands in rpc.addr" || { notok "rpc.addr: $out"; }

# shellcheck disable=SC2086
"$HAMLETD" $FLAGS > "$dir/log" 2>&1 &
PID=$!
pids="$pids $PID"
members_has() { "$@" 2>/dev/null | grep -q "^d1 .*$A:7946 .*alive"; }
if until_ok members_has "$HAMLET" members -rpc-addr="$A:7373"; then
    ok "hamlet members through the rpc module"
else
    notok "hamlet members"; sed 's/^/# /' "$dir/log"
fi
if command -v serf > /dev/null; then
    if until_ok members_has serf members -rpc-addr="$A:7373"; then
        ok "the real serf client lists hamletd"
    else
        notok "serf members"
    fi
    tags=$(serf members -rpc-addr="$A:7373" -format json 2>/dev/null | tr -d ' \n')
    case "$tags" in *'"dc":"east"'*'"role":"web"'*) ok "-tag flags are the node's tags" ;; *) notok "tags: $tags" ;; esac
fi

kill -TERM "$PID"
if until_ok sh -c "! kill -0 $PID 2>/dev/null"; then ok "TERM: exited"; else notok "TERM: exited"; fi
wait "$PID"; rc=$?
[ "$rc" -eq 0 ] && ok "exit status 0" || notok "exit status $rc"

done_testing
