#!/bin/sh
# Drop-in: hamletd started with only `serf agent` flags (no YAML) loads the
# rpc module on its own (and tags when built), serves RPC where -rpc-addr
# says, and both the real `serf` client and `hamlet` list it with its tags.
# Polls with deadlines; never sleeps its way to a result.
: "${top_builddir:=.}" "${top_srcdir:=.}"
HAMLETD="$top_builddir/core/hamletd"
HAMLET="$top_builddir/core/hamlet"
T=$(mktemp -d /tmp/hm-dropin.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }
wait_for() {
    i=0
    while [ $i -lt 200 ]; do
        if "$@"; then return 0; fi
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# a fresh 127.x.y.z address: the default ports can then stay the defaults
for try in 1 2 3 4 5 6 7 8 9 10; do
    A="127.$(( $(od -An -N1 -tu1 /dev/urandom) % 200 + 20 )).$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 2 )).$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 2 ))"
    ss -lntu 2>/dev/null | grep -q " $A:" || break
done
FLAGS="-node d1 -bind $A -rpc-addr $A:7373 -tag role=web -tag dc=east"

# shellcheck disable=SC2086
mods=$("$HAMLETD" $FLAGS -T | sed -n '/^modules:/,/^[a-z#]/p' | grep '^  - ' | tr -d ' "-' | tr '\n' ' ')
case "$mods" in rpc*) ok "serf flags alone load rpc first (modules: $mods)" ;; *) nok "modules: $mods" ;; esac
if [ -f "$top_builddir/modules/mod_tags.so" ]; then
    case "$mods" in *tags*) ok "and tags" ;; *) nok "tags loaded" ;; esac
fi
# shellcheck disable=SC2086
out=$("$HAMLETD" $FLAGS -T | sed -n '/^rpc:/,/^[a-z]/p' | grep '^  addr:' | tr -d ' ')
[ "$out" = 'addr:"'"$A"':7373"' ] && ok "-rpc-addr lands in rpc.addr" || { nok "rpc.addr: $out"; }

# shellcheck disable=SC2086
"$HAMLETD" $FLAGS > "$T/log" 2>&1 &
PID=$!
members_has() { "$@" 2>/dev/null | grep -q "^d1 .*$A:7946 .*alive"; }
if wait_for members_has "$HAMLET" members -rpc-addr="$A:7373"; then
    ok "hamlet members through the rpc module"
else
    nok "hamlet members"; sed 's/^/# /' "$T/log"
fi
if command -v serf > /dev/null; then
    if wait_for members_has serf members -rpc-addr="$A:7373"; then
        ok "the real serf client lists hamletd"
    else
        nok "serf members"
    fi
    tags=$(serf members -rpc-addr="$A:7373" -format json 2>/dev/null | tr -d ' \n')
    case "$tags" in *'"dc":"east"'*'"role":"web"'*) ok "-tag flags are the node's tags" ;; *) nok "tags: $tags" ;; esac
fi

kill -TERM "$PID"
if wait_for sh -c "! kill -0 $PID 2>/dev/null"; then ok "TERM: exited"; else nok "TERM: exited"; fi
wait "$PID"; rc=$?
[ "$rc" -eq 0 ] && ok "exit status 0" || nok "exit status $rc"
PID=

echo "1..$n"
exit $fail
