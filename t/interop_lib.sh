# Helpers for the interop tests (sourced): start real `serf agent`s and
# hamletd nodes on 127.0.0.1 with free ports, poll conditions with a
# deadline, clean up by PID.  TAP output: ok/not_ok/plan, and `check DESC
# CMD...` -- these tests' own helpers, which replace t/lib.sh's (sourced for
# HAMLETD and free_port).
. "${top_srcdir:-.}/t/lib.sh"
SERF=$(command -v serf)
W=$(mktemp -d /tmp/hamlet-interop.XXXXXX)
PIDS=
RPCS=
T=0
FAILED=0
START_MS=$(date +%s%3N)

cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    if [ "$FAILED" -ne 0 ] || [ -n "${KEEP_LOGS:-}" ]; then
        for r in $RPCS; do
            echo "# ---- members at $r" >&2
            "$SERF" members -rpc-addr=127.0.0.1:$r 2>&1 | sed 's/^/#   /' >&2
        done
        for f in "$W"/*.log; do
            [ -f "$f" ] || continue
            echo "# ---- $f" >&2
            grep -v 'agent.ipc: Accepted client' "$f" | tail -n 60 | sed 's/^/#   /' >&2
        done
    fi
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { T=$((T + 1)); echo "ok $T - $*"; }
not_ok() { T=$((T + 1)); FAILED=$((FAILED + 1)); echo "not ok $T - $*"; }
check() { # check "desc" cmd...
    d=$1; shift
    if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# check_todo "reason" "desc" cmd...: a known gap (TAP TODO): its failure
# does not fail the script; a pass shows as XPASS, to drop the mark.
check_todo() {
    r=$1; d=$2; shift 2
    T=$((T + 1))
    if "$@"; then echo "ok $T - $d # TODO $r"; else echo "not ok $T - $d # TODO $r"; fi
}
plan() { echo "1..$T"; [ "$FAILED" -eq 0 ]; }
now_ms() { date +%s%3N; }

# serf_start NAME [extra flags]: sets ${NAME}_port ${NAME}_rpc ${NAME}_pid
serf_start() {
    n=$1; shift
    p=$(free_port); r=$(free_port)
    "$SERF" agent -node="$n" -bind=127.0.0.1:"$p" -rpc-addr=127.0.0.1:"$r" "$@" \
        >"$W/$n.log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    eval "${n}_port=$p ${n}_rpc=$r ${n}_pid=$pid"
    RPCS="$RPCS $r"
    wait_for 10 serf_up "$r"
}
serf_up() { "$SERF" members -rpc-addr=127.0.0.1:"$1" >/dev/null 2>&1; }

# hamlet_start NAME [extra flags]: sets ${NAME}_port ${NAME}_rpc ${NAME}_pid.
# An RPC port is always given (mod_rpc, when built, is loaded by default
# and would otherwise try 127.0.0.1:7373); a later -rpc-addr wins.
hamlet_start() {
    n=$1; shift
    p=$(free_port); r=$(free_port)
    "$HAMLETD" -node="$n" -bind=127.0.0.1:"$p" -rpc-addr=127.0.0.1:"$r" "$@" \
        >"$W/$n.log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    eval "${n}_port=$p ${n}_rpc=$r ${n}_pid=$pid"
    # Return once the gossip port is bound (the next agent may join it at
    # once) or the daemon has exited (tests of refused starts).
    wait_for 10 hamlet_bound "$n" "$pid" || :
}
hamlet_bound() { grep -q 'agent: Serf agent starting' "$W/$1.log" || ! kill -0 "$2" 2>/dev/null; }

# wait_for SECONDS cmd...: polls every 100 ms until cmd succeeds.
wait_for() {
    limit=$(( $(now_ms) + $1 * 1000 )); shift
    while [ "$(now_ms)" -lt "$limit" ]; do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}

# serf_sees RPC NODE STATUS: the serf agent at RPC lists NODE with STATUS.
serf_sees() {
    "$SERF" members -rpc-addr=127.0.0.1:"$1" 2>/dev/null |
        awk -v n="$2" -v s="$3" '$1 == n && $3 == s { f = 1 } END { exit !f }'
}
serf_count() { # serf_count RPC STATUS -> prints the number of members in STATUS
    "$SERF" members -rpc-addr=127.0.0.1:"$1" 2>/dev/null | awk -v s="$2" '$3 == s' | wc -l
}
serf_count_is() { [ "$(serf_count "$1" "$2")" -eq "$3" ]; }

# hamlet_logged NAME PATTERN: hamletd NAME logged a line matching PATTERN
# (extended regexp) since it started.
hamlet_logged() { grep -Eq "$2" "$W/$1.log"; }
# the hamletd's view of a member, from its Serf-style event log lines
hamlet_sees() { # hamlet_sees NAME NODE alive|failed|left
    # a leave intent that arrives after memberlist's dead message turns
    # failed into left: "EventMemberLeave (forced)", as in Serf
    case $3 in
    alive) pat="EventMemberJoin" ;;
    failed) pat="EventMemberFailed" ;;
    left) pat="EventMemberLeave" ;;
    esac
    last=$(grep -E "EventMember(Join|Failed|Leave|Reap)[^:]*: $2 " "$W/$1.log" | tail -n 1)
    case $last in *"] serf: $pat: $2 "* | *"] serf: $pat (forced): $2 "*) return 0 ;; esac
    return 1
}
alive_pid() { kill -0 "$1" 2>/dev/null; }
