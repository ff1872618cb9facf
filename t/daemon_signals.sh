#!/bin/sh
# hamletd's signals: SIGHUP with a broken config keeps it running on the old
# one (and logs why), SIGHUP with a good one applies it, SIGUSR1 dumps
# without killing it, SIGTERM and SIGINT leave gracefully and exit 0.
# Polls for conditions with a deadline; never sleeps its way to a result.
. "${top_srcdir:-.}/t/lib.sh"
tap_init sig
in_log() { grep -q -- "$1" "$dir/log"; }
gone() { ! kill -0 "$PID" 2>/dev/null; }
alive() { kill -0 "$PID" 2>/dev/null; }

# a 127.0.x.y address nobody else uses (port fixed)
A=$(fresh_addr 127.0)
# modules: [] keeps this test to the core (no RPC port shared with others)
good() { printf 'bind: "%s:7946"\nnode_name: sig1\nmodules: []\nlog_level: %s\n' "$A" "$1" > "$dir/h.yaml"; }

start() {
    : > "$dir/log"
    "$HAMLETD" -c "$dir/h.yaml" 2> "$dir/log" > /dev/null &
    PID=$!
    pids="$pids $PID"
    until_ok in_log "running"
}

good info
if start; then ok "hamletd started on $A:7946"; else notok "hamletd started"; cat "$dir/log" | sed 's/^/# /'; fi

printf 'bind: "%s:7946"\nmodules: []\nprotocol: [broken\n' "$A" > "$dir/h.yaml"
kill -HUP "$PID"
if until_ok in_log "reload failed"; then ok "HUP with a broken config: error logged"; else notok "HUP broken: error logged"; fi
if grep -q "reload failed, keeping the running configuration: $dir/h.yaml:4:1: protocol: YAML syntax error" "$dir/log"; then
    ok "the logged error names file:line:column and the key"
else
    notok "the logged error names file:line:column and the key"; grep reload "$dir/log" | sed 's/^/# /'
fi
if alive; then ok "still running after a broken reload"; else notok "still running after a broken reload"; fi

printf 'bind: "%s:7946"\nmodules: []\nbogus_key: 1\n' "$A" > "$dir/h.yaml"
kill -HUP "$PID"
if until_ok in_log "bogus_key: unknown key"; then ok "HUP with an unknown key: rejected"; else notok "HUP unknown key rejected"; fi
alive && ok "still running" || notok "still running"

good debug
kill -HUP "$PID"
if until_ok in_log "configuration reloaded"; then ok "HUP with a good config: reloaded"; else notok "HUP good config"; fi

before=$(wc -l < "$dir/log")
kill -USR1 "$PID"
if until_ok sh -c "[ \$(wc -l < '$dir/log') -gt $before ]"; then ok "USR1 dumps state to the log"; else notok "USR1 dump"; fi
# USR1's default action would kill the process: it must survive it and the
# loop must go on serving signals (the next HUP is answered)
good info
kill -HUP "$PID"
if until_ok sh -c "[ \$(grep -c 'configuration reloaded' '$dir/log') -ge 2 ]"; then ok "USR1 handled, loop still running"; else notok "USR1 handled"; fi

kill -TERM "$PID"
if until_ok gone; then ok "TERM: exited"; else notok "TERM: exited"; fi
wait "$PID"; rc=$?
is "$rc" 0 "TERM: exit status 0"
if in_log "Gracefully shutting down" && in_log "graceful leave complete"; then ok "TERM: graceful leave logged"; else notok "TERM: graceful leave logged"; fi

good info
start || notok "restart"
kill -INT "$PID"
until_ok gone
wait "$PID"; rc=$?
is "$rc" 0 "INT: graceful leave, exit status 0"
in_log "Caught signal: interrupt" && ok "INT logged" || notok "INT logged"

done_testing
