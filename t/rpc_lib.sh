# Shell helpers for the rpc tests (sourced): TAP counters, free ports,
# real serf agents started and killed by PID, polling with deadlines.
H=${top_builddir:-.}/core/hamlet
PY=/usr/bin/python3
TESTDIR=$(mktemp -d /tmp/hamlet-rpc-test.XXXXXX)
PIDS=""
n=0
fails=0

cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$TESTDIR"
}
trap cleanup EXIT INT TERM

ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if [ "$1" = 0 ]; then ok "$2"; else nok "$2"; fi; }
# same "desc" "$a" "$b": equal strings, with a diff on failure
same() {
    if [ "$2" = "$3" ]; then ok "$1"; else
        nok "$1"
        printf '%s\n' "$2" > "$TESTDIR/a"; printf '%s\n' "$3" > "$TESTDIR/b"
        diff "$TESTDIR/a" "$TESTDIR/b" | sed 's/^/# /'
    fi
}
# Before the plan: no daemon log holds a sanitizer report (ASan builds).
done_testing() {
    if grep -l 'ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer' \
        "$TESTDIR"/*.log >/dev/null 2>&1; then
        nok "no sanitizer report in the daemons' logs"
        grep -h -A8 'ERROR: AddressSanitizer\|runtime error:' "$TESTDIR"/*.log | sed 's/^/# /'
    else
        ok "no sanitizer report in the daemons' logs"
    fi
    echo "1..$n"
    [ $fails = 0 ]
}

# free_port: a TCP port nobody listens on right now (UDP too, checked)
free_port() {
    $PY -c '
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); break
    except OSError:
        pass
    finally:
        u.close(); t.close()
print(p)'
}

# poll SECONDS CMD...: rerun CMD until it succeeds or the deadline passes
poll() {
    _end=$(( $(date +%s) + $1 )); shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$(date +%s)" -ge "$_end" ] && return 1
        sleep 0.1
    done
}

# start_serf NAME [agent flags...]: sets ${NAME}_RPC, ${NAME}_BIND, ${NAME}_PID
start_serf() {
    _name=$1; shift
    _gp=$(free_port); _rp=$(free_port)
    serf agent -node "$_name" -bind "127.0.0.1:$_gp" -rpc-addr "127.0.0.1:$_rp" \
        -log-level debug "$@" > "$TESTDIR/$_name.log" 2>&1 &
    _pid=$!
    PIDS="$PIDS $_pid"
    eval "${_name}_RPC=127.0.0.1:$_rp ${_name}_BIND=127.0.0.1:$_gp ${_name}_PID=$_pid"
    # "up" = its RPC port answers (auth errors still prove it listens)
    poll 20 sh -c "serf members -rpc-addr 127.0.0.1:$_rp | grep -qv 'Error connecting'"
}

# count of alive members seen by the agent at RPC address $1
alive_count() { serf members -rpc-addr "$1" -status alive $2 | grep -c .; }
has_alive() { [ "$(alive_count "$1" "$3")" = "$2" ]; }

# sorted lines without trailing blanks (only the last line of a table
# lacks them, and Serf's order is random), with the comma-separated tag list of each line sorted too
sortlines() {
    printf '%s\n' "$1" | $PY -c '
import re, sys
fix = lambda m: ",".join(sorted(m.group(0).split(",")))
for l in sorted(re.sub(r"\S+=\S*(,\S+=\S*)+", fix, l.rstrip()) for l in sys.stdin):
    print(l)'
}
