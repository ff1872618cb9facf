#!/bin/sh
# hamletd's signals: SIGHUP with a broken config keeps it running on the old
# one (and logs why), SIGHUP with a good one applies it, SIGUSR1 dumps
# without killing it, SIGTERM and SIGINT leave gracefully and exit 0.
# Polls for conditions with a deadline; never sleeps its way to a result.
: "${top_builddir:=.}" "${top_srcdir:=.}"
HAMLETD="$top_builddir/core/hamletd"
T=$(mktemp -d /tmp/hm-sig.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }
check() { if [ "$1" = "$2" ]; then ok "$3"; else nok "$3"; echo "#   got: '$1' expected: '$2'"; fi; }

# wait_for CMD...: poll until CMD succeeds, at most 10 s
wait_for() {
    i=0
    while [ $i -lt 200 ]; do
        if "$@"; then return 0; fi
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}
in_log() { grep -q -- "$1" "$T/log"; }
gone() { ! kill -0 "$PID" 2>/dev/null; }
alive() { kill -0 "$PID" 2>/dev/null; }

# a 127.0.0.x address nobody else uses (x random, port fixed)
addr_free() { ! (ss -lntu 2>/dev/null | grep -q " $1:"); }
for try in 1 2 3 4 5 6 7 8 9 10; do
    A="127.0.$(( $(od -An -N1 -tu1 /dev/urandom) % 200 + 20 )).$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 2 ))"
    addr_free "$A" && break
done
# modules: [] keeps this test to the core (no RPC port shared with others)
good() { printf 'bind: "%s:7946"\nnode_name: sig1\nmodules: []\nlog_level: %s\n' "$A" "$1" > "$T/h.yaml"; }

start() {
    : > "$T/log"
    "$HAMLETD" -c "$T/h.yaml" 2> "$T/log" > /dev/null &
    PID=$!
    wait_for in_log "running"
}

good info
if start; then ok "hamletd started on $A:7946"; else nok "hamletd started"; cat "$T/log" | sed 's/^/# /'; fi

printf 'bind: "%s:7946"\nmodules: []\nprotocol: [broken\n' "$A" > "$T/h.yaml"
kill -HUP "$PID"
if wait_for in_log "reload failed"; then ok "HUP with a broken config: error logged"; else nok "HUP broken: error logged"; fi
if grep -q "reload failed, keeping the running configuration: $T/h.yaml:4:1: protocol: YAML syntax error" "$T/log"; then
    ok "the logged error names file:line:column and the key"
else
    nok "the logged error names file:line:column and the key"; grep reload "$T/log" | sed 's/^/# /'
fi
if alive; then ok "still running after a broken reload"; else nok "still running after a broken reload"; fi

printf 'bind: "%s:7946"\nmodules: []\nbogus_key: 1\n' "$A" > "$T/h.yaml"
kill -HUP "$PID"
if wait_for in_log "bogus_key: unknown key"; then ok "HUP with an unknown key: rejected"; else nok "HUP unknown key rejected"; fi
alive && ok "still running" || nok "still running"

good debug
kill -HUP "$PID"
if wait_for in_log "configuration reloaded"; then ok "HUP with a good config: reloaded"; else nok "HUP good config"; fi

before=$(wc -l < "$T/log")
kill -USR1 "$PID"
if wait_for sh -c "[ \$(wc -l < '$T/log') -gt $before ]"; then ok "USR1 dumps state to the log"; else nok "USR1 dump"; fi
# USR1's default action would kill the process: it must survive it and the
# loop must go on serving signals (the next HUP is answered)
good info
kill -HUP "$PID"
if wait_for sh -c "[ \$(grep -c 'configuration reloaded' '$T/log') -ge 2 ]"; then ok "USR1 handled, loop still running"; else nok "USR1 handled"; fi

kill -TERM "$PID"
if wait_for gone; then ok "TERM: exited"; else nok "TERM: exited"; fi
wait "$PID"; rc=$?
check "$rc" 0 "TERM: exit status 0"
if in_log "Gracefully shutting down" && in_log "graceful leave complete"; then ok "TERM: graceful leave logged"; else nok "TERM: graceful leave logged"; fi
PID=

good info
start || nok "restart"
kill -INT "$PID"
wait_for gone
wait "$PID"; rc=$?
check "$rc" 0 "INT: graceful leave, exit status 0"
in_log "Caught signal: interrupt" && ok "INT logged" || nok "INT logged"
PID=

echo "1..$n"
exit $fail
