#!/bin/bash
# contrib/bench/serf_compare.sh: hamletd against the real `serf agent`, in ONE
# run on 127.0.0.1, so that both sides see the same machine noise.
#
# A mixed cluster of 3 `serf agent`s and 3 hamletd (profile lan, distinct
# ports) is started; then, for each kind of agent side by side:
#   - `members` RPC calls per second over one connection, and the agent's CPU
#     per call (/proc/PID/stat utime+stime and /proc/PID/task/*/schedstat);
#   - user event latency: an event fired at one node until every node's RPC
#     `stream` has delivered it, until the first other node has it, until
#     each kind of node has it (origin hamletd vs origin serf: h1 s1 h2 s2
#     in turn, pooled by kind);
#   - query round trip: until all six acks, and all six responses (every
#     node answers through an RPC stream + `respond`);
#   - agent CPU over the events and queries, per message;
#   - idle footprint: VmRSS and CPU% over IDLE seconds;
#   - convergence: from the 6th node's `join` until all six list six alive;
#   - the `members` command line (serf's and hamlet's client) per call.
# Raw RPC is driven by serf_compare_rpc.c, built here with cc against the
# tree's own RPC codec; joins, leaves and listings also go through the real
# `serf` and `hamlet` clients.
#
# Usage: contrib/bench/serf_compare.sh   (after `make`; not part of `make check`)
# Environment: HAMLET_BUILDDIR (default: the source tree), N_EV (events per
# kind of origin, 50), N_Q (queries per kind of origin, 30), ROUNDS (joins
# per kind, 3), IDLE (seconds, 10), MEMBERS_SECS (3), LOG_LEVEL (of every
# agent, info; SERF_LOG_LEVEL, HAMLET_LOG_LEVEL for one kind), KEEP_LOGS=1 to
# keep the agents' logs.  Results: contrib/bench/COMPARE.md.
# Bounded: a watchdog ends the run after 170 s; everything started is killed
# by PID on exit.
# Node variables (s1_rpc, h1_pid, ...) are made by eval; node lists split on purpose.
# shellcheck disable=SC2154,SC2086
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${HAMLET_BUILDDIR:-$SRC}
HAMLETD=$BUILD/core/hamletd
HAMLET=$BUILD/core/hamlet
MODS=$BUILD/modules
SERF=$(command -v serf || true)
N_EV=${N_EV:-50}
N_Q=${N_Q:-30}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-10}
MEMBERS_SECS=${MEMBERS_SECS:-3}
LOG_LEVEL=${LOG_LEVEL:-info}
SERF_LOG_LEVEL=${SERF_LOG_LEVEL:-$LOG_LEVEL}
HAMLET_LOG_LEVEL=${HAMLET_LOG_LEVEL:-$LOG_LEVEL}
LIMIT=170

for f in "$HAMLETD" "$HAMLET" "$MODS/mod_rpc.so"; do
    [ -e "$f" ] || { echo "serf_compare: $f missing: run make first" >&2; exit 2; }
done
[ -n "$SERF" ] || { echo "serf_compare: no serf on PATH (apt-get install serf)" >&2; exit 2; }

W=$(mktemp -d /tmp/serf_compare.XXXXXX)
PIDS=
WATCHDOG=
T_START=$(date +%s)

cleanup() {
    [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
    [ -s "$W/sleeper" ] && kill "$(cat "$W/sleeper")" 2>/dev/null
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    if [ -n "${KEEP_LOGS:-}" ]; then
        echo "# logs kept in $W" >&2
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT
trap 'echo "serf_compare: interrupted" >&2; exit 1' INT TERM
# The watchdog signals this shell; helpers run under `timeout` ending at the
# same limit, so the trap runs at once (at worst after a 10 s idle sleep).
# Its own sleep is killed by PID too (it would hold a pipe open).
(
    sleep "$LIMIT" &
    echo $! >"$W/sleeper"
    wait $!
    echo "serf_compare: over ${LIMIT}s, stopping" >&2
    kill -TERM $$
) >/dev/null &
WATCHDOG=$!

say() { echo "# $*" >&2; }
now_ms() { date +%s%3N; }

# ---- the raw RPC helper ------------------------------------------------------
RPC=$W/serf_compare_rpc
MP_CFLAGS=$(pkg-config --cflags msgpack-c 2>/dev/null || pkg-config --cflags msgpack 2>/dev/null)
MP_LIBS=$(pkg-config --libs msgpack-c 2>/dev/null || pkg-config --libs msgpack 2>/dev/null ||
    echo -lmsgpackc)
# shellcheck disable=SC2086
${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter -I"$SRC/core" \
    -I"$SRC/core/include" $MP_CFLAGS -o "$RPC" "$SRC/contrib/bench/serf_compare_rpc.c" \
    "$SRC/core/hm_rpcc.c" "$SRC/core/hm_rpcwire.c" "$SRC/core/hm_types.c" $MP_LIBS ||
    { echo "serf_compare: cannot build the RPC helper" >&2; exit 2; }
# never past the watchdog: bash runs the TERM trap only once this returns
rpc() {
    local rem=$(( LIMIT - ($(date +%s) - T_START) ))
    [ "$rem" -ge 1 ] || rem=1
    timeout "$rem" "$RPC" "$@"
}

# ---- agents --------------------------------------------------------------------
# 2 ports per node (gossip, RPC); 6 base nodes + 2*ROUNDS joiners.
read -r -a PORTS <<<"$(rpc ports $(( 2 * (6 + 2 * ROUNDS) )) | tr '\n' ' ')"
PI=0
next_port() { PORT=${PORTS[$PI]}; PI=$((PI + 1)); }

# start KIND NAME [join-address]: sets ${NAME}_pid ${NAME}_gossip ${NAME}_rpc
start() {
    local kind=$1 name=$2 join=${3:-} g r pid
    next_port; g=$PORT
    next_port; r=$PORT
    if [ "$kind" = serf ]; then
        "$SERF" agent -node="$name" -bind=127.0.0.1:"$g" -rpc-addr=127.0.0.1:"$r" \
            -profile=lan -log-level="$SERF_LOG_LEVEL" ${join:+-join="$join"} \
            >"$W/$name.log" 2>&1 &
    else
        "$HAMLETD" -node="$name" -bind=127.0.0.1:"$g" -rpc-addr=127.0.0.1:"$r" \
            -profile=lan -log-level="$HAMLET_LOG_LEVEL" -module-path="$MODS" \
            ${join:+-join="$join"} >"$W/$name.log" 2>&1 &
    fi
    pid=$!
    PIDS="$PIDS $pid"
    NODES="${NODES:-} $name"
    eval "${name}_pid=$pid ${name}_gossip=127.0.0.1:$g ${name}_rpc=127.0.0.1:$r ${name}_kind=$kind"
    if ! rpc up 10 "127.0.0.1:$r"; then
        echo "serf_compare: $name did not start" >&2
        tail "$W/$name.log" >&2
        exit 1
    fi
}
v() { eval "echo \${$1_$2}"; }

# leave NAME: graceful leave through the *other* kind's client, then wait
# (bounded) for the process to exit.  Sets LEFT_MS (leave to exit; -1: had
# to be killed) and LEFT_RC (its exit status).
leave() {
    local name=$1 pid t0 client
    pid=$(v "$name" pid)
    if [ "$(v "$name" kind)" = serf ]; then client=$HAMLET; else client=$SERF; fi
    t0=$(now_ms)
    "$client" leave -rpc-addr="$(v "$name" rpc)" >>"$W/leave.out" 2>&1 ||
        say "leave $name: $(tail -1 "$W/leave.out")"
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.025
    done
    LEFT_MS=$(( $(now_ms) - t0 ))
    if kill -0 "$pid" 2>/dev/null; then
        say "$name (pid $pid) still running 5 s after leave: killed"
        kill -9 "$pid"
        LEFT_MS=-1
    fi
    wait "$pid" 2>/dev/null
    LEFT_RC=$?
    [ "$LEFT_RC" -eq 0 ] || say "$name exited with status $LEFT_RC after leave"
}

cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
rss_kb() { awk '/^VmRSS/ { print $2 }' /proc/"$1"/status 2>/dev/null; }
median() {
    sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'
}
mean() { awk '{ s += $1; n++ } END { if (n) printf "%.1f\n", s / n; else print "-" }'; }
# names FILE: FILE to stderr with RPC addresses replaced by node names
names() {
    local n e=()
    for n in ${NODES:-}; do e+=(-e "s/$(v "$n" rpc)\b/$n/g"); done
    [ -s "$1" ] && sed "${e[@]}" -e 's/^/# /' "$1" >&2
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; } # field KEY < "k=v k=v" line

say "building cluster: s1 h1 s2 h2 s3 (+ h3a as 6th), profile lan, 127.0.0.1"
start serf s1
start hamlet h1 "$s1_gossip"
start serf s2 "$h1_gossip"
start hamlet h2 "$s2_gossip"
start serf s3 "$h2_gossip"
BASE="s1 h1 s2 h2 s3"
base_rpcs() { for n in $BASE; do v "$n" rpc; done; }
# shellcheck disable=SC2046
if ! rpc wait-alive 5 15 $(base_rpcs) >/dev/null; then
    echo "serf_compare: 5 nodes did not converge" >&2
    exit 1
fi

# ---- convergence: the 6th node joins (first round; the others at the end) -----
declare -A CONV
join_round() { # join_round KIND NAME: start NAME isolated, join it, measure
    local kind=$1 name=$2 target out
    if [ "$kind" = serf ]; then target=$s1_gossip; else target=$h1_gossip; fi
    start "$kind" "$name"
    # shellcheck disable=SC2046
    out=$(rpc converge 6 "$(v "$name" rpc)" "$target" -- $(base_rpcs) "$(v "$name" rpc)")
    say "join $name ($kind) via $target: $out"
    CONV[$kind]="${CONV[$kind]:-} $(echo "$out" | field converge_ms)"
}
join_round hamlet h3a
SIXTH=h3a
HS="h1 h2 h3a"
SS="s1 s2 s3"
pids_of() { for n in "$@"; do v "$n" pid; done; }

# ---- idle footprint ----------------------------------------------------------------
say "idle ${IDLE}s (after 2 s to settle)"
sleep 2
declare -A C0
for n in $HS $SS; do C0[$n]=$(cpu_ns "$(v "$n" pid)"); done
sleep "$IDLE"
idle_cpu() { # mean CPU% of the named nodes over the idle window
    for n in "$@"; do
        echo "$(cpu_ns "$(v "$n" pid)") ${C0[$n]}"
    done | awk -v s="$IDLE" '{ t += ($1 - $2) / 1e9 / s * 100; n++ } END { printf "%.2f\n", t / n }'
}
idle_rss() { # mean VmRSS in MiB of the named nodes
    for n in "$@"; do rss_kb "$(v "$n" pid)"; done |
        awk '{ t += $1; n++ } END { printf "%.1f\n", t / n / 1024 }'
}
IDLE_CPU_H=$(idle_cpu $HS); IDLE_CPU_S=$(idle_cpu $SS)
IDLE_RSS_H=$(idle_rss $HS); IDLE_RSS_S=$(idle_rss $SS)

# ---- members RPC over one connection, alternating h1 / s1 ----------------------------
say "members RPC: ${MEMBERS_SECS}s per agent, in two halves, alternating"
half=$(awk -v s="$MEMBERS_SECS" 'BEGIN { print s / 2 }')
: >"$W/members.h"; : >"$W/members.s"
for _ in 1 2; do
    rpc members "$half" "$h1_pid" "$h1_rpc" >>"$W/members.h"
    rpc members "$half" "$s1_pid" "$s1_rpc" >>"$W/members.s"
done
members_sum() { # rate, agent µs/call (schedstat), agent µs/call (ticks), client µs/call
    awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
           c += f["calls"]; s += f["secs"]; a += f["agent_us"] * f["calls"];
           t += f["agent_us_ticks"] * f["calls"]; m += f["client_us"] * f["calls"];
           nm = f["members"] }
         END { printf "%.0f %.1f %.1f %.1f %d\n", c / s, a / c, t / c, m / c, nm }' "$1"
}
read -r M_RATE_H M_CPU_H M_TCK_H M_CL_H _ <<<"$(members_sum "$W/members.h")"
read -r M_RATE_S M_CPU_S M_TCK_S M_CL_S _ <<<"$(members_sum "$W/members.s")"

# ---- the command-line clients, each against each agent ------------------------------
say "members through the serf and hamlet command lines, 20 calls each"
cli_ms() { # cli_ms CLIENT RPC-ADDR: wall ms per `members` call
    local t0 t1
    t0=$(date +%s%N)
    for _ in $(seq 20); do "$1" members -rpc-addr="$2" >/dev/null || echo FAIL; done
    t1=$(date +%s%N)
    echo "$t0 $t1" | awk '{ printf "%.1f\n", ($2 - $1) / 1e6 / 20 }'
}
CLI_SERF_H=$(cli_ms "$SERF" "$h1_rpc"); CLI_SERF_S=$(cli_ms "$SERF" "$s1_rpc")
CLI_HAM_H=$(cli_ms "$HAMLET" "$h1_rpc"); CLI_HAM_S=$(cli_ms "$HAMLET" "$s1_rpc")
# both clients list the same six, alive, from either kind of agent
for c in "$SERF" "$HAMLET"; do
    for a in "$h1_rpc" "$s1_rpc"; do
        k=$("$c" members -rpc-addr="$a" -status=alive | wc -l)
        [ "$k" -eq 6 ] || say "WARNING: $(basename "$c") members at $a lists $k alive, not 6"
    done
done

# ---- user events and queries, origins alternating h1 / s1 -----------------------------
LABELED=$(for n in $BASE h3a; do echo "$(v "$n" kind)=$(v "$n" rpc)"; done)
# two origins of each kind, taken in turn, pooled by kind: one node's gossip
# phase does not stand for its kind
ORIGINS="hamlet=$h1_rpc serf=$s1_rpc hamlet=$h2_rpc serf=$s2_rpc"
T_EQ0=$(now_ms)
CPU_EQ0_H=$(for p in $(pids_of $HS); do cpu_ns "$p"; done | awk '{ s += $1 } END { print s }')
CPU_EQ0_S=$(for p in $(pids_of $SS); do cpu_ns "$p"; done | awk '{ s += $1 } END { print s }')
say "user events: $N_EV per kind of origin (h1 s1 h2 s2 in turn), until all six streams deliver"
# shellcheck disable=SC2086
rpc events $((N_EV / 2)) $ORIGINS -- $LABELED >"$W/events.out" \
    2>"$W/events.err" || say "events run failed"
names "$W/events.err"
say "queries: $N_Q per kind of origin, all six answer over RPC"
# shellcheck disable=SC2086
rpc query $((N_Q / 2)) $ORIGINS -- $LABELED >"$W/query.out" 2>"$W/query.err" ||
    say "query run failed"
names "$W/query.err"
CPU_EQ1_H=$(for p in $(pids_of $HS); do cpu_ns "$p"; done | awk '{ s += $1 } END { print s }')
CPU_EQ1_S=$(for p in $(pids_of $SS); do cpu_ns "$p"; done | awk '{ s += $1 } END { print s }')
EQ_SECS=$(awk -v a="$T_EQ0" -v b="$(now_ms)" 'BEGIN { print (b - a) / 1e3 }')
# agent CPU% over that phase, per node; and per message (event or query)
# once the idle rate measured above is taken off
EQ_MSGS=$(( 2 * N_EV + 2 * N_Q ))
eq_pct() {
    awk -v a="$1" -v b="$2" -v s="$EQ_SECS" 'BEGIN { printf "%.2f", (b - a) / 1e9 / 3 / s * 100 }'
}
eq_op() { awk -v p="$1" -v i="$2" -v s="$EQ_SECS" -v n="$EQ_MSGS" \
    'BEGIN { printf "%.0f", (p - i) / 100 * s / n * 1e6 }'; }
EQ_PCT_H=$(eq_pct "$CPU_EQ0_H" "$CPU_EQ1_H"); EQ_PCT_S=$(eq_pct "$CPU_EQ0_S" "$CPU_EQ1_S")
EQ_OP_H=$(eq_op "$EQ_PCT_H" "$IDLE_CPU_H"); EQ_OP_S=$(eq_op "$EQ_PCT_S" "$IDLE_CPU_S")
ev() { grep "^$1 origin=$2 " "$W/$3.out" | field "$4"; }
RSS_LOAD_H=$(idle_rss $HS); RSS_LOAD_S=$(idle_rss $SS)

# ---- more joins: the 6th node alternates between the two kinds -----------------------
declare -A LEAVE_MS
LET=(a b c d e f g h i j)
leave_sixth() {
    local k
    k=$(v "$SIXTH" kind)
    leave "$SIXTH"
    LEAVE_MS[$k]="${LEAVE_MS[$k]:-} $LEFT_MS"
}
for i in $(seq 2 $(( 2 * ROUNDS ))); do
    if [ $((i % 2)) -eq 0 ]; then
        kind=serf name=s4${LET[$((i / 2 - 1))]}
    else
        kind=hamlet name=h3${LET[$(((i - 1) / 2))]}
    fi
    leave_sixth
    # shellcheck disable=SC2046
    rpc wait-alive 5 15 $(base_rpcs) >/dev/null || say "the 5 did not see $SIXTH leave"
    join_round "$kind" "$name"
    SIXTH=$name
    if [ $(( $(date +%s) - T_START )) -gt $(( LIMIT - 25 )) ]; then
        say "time is short: no more joins"
        break
    fi
done
leave_sixth

# ---- health: did every agent survive? ---------------------------------------------------
HEALTH=""
for n in $BASE; do
    kill -0 "$(v "$n" pid)" 2>/dev/null || HEALTH="$HEALTH $n(exited)"
done
for f in "$W"/h*.log; do
    nerr=$(grep -c -E '\[(ERR|WARN)\]' "$f")
    [ "$nerr" -gt 0 ] && HEALTH="$HEALTH $(basename "$f" .log):${nerr}ERR/WARN"
done
SERF_WARN=$(cat "$W"/s*.log | grep -c -E '\[(ERR|WARN)\]')

# ---- the table ----------------------------------------------------------------------------
conv_med() { echo "${CONV[$1]:-}" | tr ' ' '\n' | grep . | median; }
list() { echo "${1:-}" | tr ' ' '\n' | grep . | tr '\n' ' '; }
row() { # row LABEL HAMLET SERF BETTER(low|high|-)
    local ratio
    ratio=$(awk -v h="$2" -v s="$3" -v b="$4" 'BEGIN {
        if (b == "-" || h + 0 <= 0 || s + 0 <= 0) { print "" ; exit }
        r = h / s; w = (b == "low") ? (r < 1 ? "hamletd" : "serf") : (r > 1 ? "hamletd" : "serf");
        if (r > 0.8 && r < 1.25) w = "~ (noise)";
        printf "%5.2f  %s", r, w }')
    printf '%-46s %12s %12s   %s\n' "$1" "$2" "$3" "$ratio"
}
{
echo "hamletd vs serf agent -- $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), $(nproc) CPUs," \
    "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
echo "cluster: 3 hamletd ($("$HAMLETD" -v 2>&1 | head -1)) + 3 serf agent" \
    "($(dpkg-query -W -f='${Version}' serf 2>/dev/null || echo '?')), profile lan, 127.0.0.1"
echo "columns: the agent measured; for events and queries, the ORIGIN's kind (unless in capitals)"
printf '%-46s %12s %12s   %s\n' "figure" "hamletd" "serf" "h/s  favours"
row "members RPC calls/s, 1 connection" "$M_RATE_H" "$M_RATE_S" high
row "  agent CPU per members call, us" "$M_CPU_H" "$M_CPU_S" low
row "  same, from /proc/PID/stat ticks, us" "$M_TCK_H" "$M_TCK_S" low
row "  client CPU per call (same client), us" "$M_CL_H" "$M_CL_S" -
row "user event to all 6 streams, median ms" "$(ev events hamlet events median_ms)" \
    "$(ev events serf events median_ms)" low
row "user event to all 6 streams, p95 ms" "$(ev events hamlet events p95_ms)" \
    "$(ev events serf events p95_ms)" low
row "  first other node has it, median ms" "$(ev events_first hamlet events median_ms)" \
    "$(ev events_first serf events median_ms)" low
row "  reaching the hamletd nodes, median ms" "$(ev events_pair 'hamlet>hamlet' events median_ms)" \
    "$(ev events_pair 'serf>hamlet' events median_ms)" low
row "  reaching the serf nodes, median ms" "$(ev events_pair 'hamlet>serf' events median_ms)" \
    "$(ev events_pair 'serf>serf' events median_ms)" low
row "user event reaches a node OF THIS KIND, median" "$(ev events_to hamlet events median_ms)" \
    "$(ev events_to serf events median_ms)" low
row "  events lost (of $N_EV per kind of origin)" "$(ev events hamlet events lost)" \
    "$(ev events serf events lost)" -
row "  query: first other node has it, median ms" "$(ev query_first hamlet query median_ms)" \
    "$(ev query_first serf query median_ms)" low
row "  query reaching the hamletd nodes, median ms" \
    "$(ev query_pair 'hamlet>hamlet' query median_ms)" \
    "$(ev query_pair 'serf>hamlet' query median_ms)" low
row "  query reaching the serf nodes, median ms" "$(ev query_pair 'hamlet>serf' query median_ms)" \
    "$(ev query_pair 'serf>serf' query median_ms)" low
row "query, all 6 acks, median ms" "$(ev query_acks hamlet query median_ms)" \
    "$(ev query_acks serf query median_ms)" low
row "query, all 6 responses, median ms" "$(ev query_resps hamlet query median_ms)" \
    "$(ev query_resps serf query median_ms)" low
row "query, all 6 responses, p95 ms" "$(ev query_resps hamlet query p95_ms)" \
    "$(ev query_resps serf query p95_ms)" low
row "  queries incomplete (of $N_Q per kind of origin)" "$(ev query_resps hamlet query lost)" \
    "$(ev query_resps serf query lost)" -
row "agent CPU% during events+queries (${EQ_SECS%.*}s)" "$EQ_PCT_H" "$EQ_PCT_S" low
row "  per event/query per node, idle taken off, us" "$EQ_OP_H" "$EQ_OP_S" low
row "idle RSS, MiB (mean of 3)" "$IDLE_RSS_H" "$IDLE_RSS_S" low
row "idle CPU over ${IDLE}s, % (mean of 3)" "$IDLE_CPU_H" "$IDLE_CPU_S" low
row "RSS after events+queries, MiB" "$RSS_LOAD_H" "$RSS_LOAD_S" low
row "6th node join -> 6x6 alive, median ms" "$(conv_med hamlet)" "$(conv_med serf)" low
row "  each join, ms" "$(list "${CONV[hamlet]:-}")" "$(list "${CONV[serf]:-}")" -
row "leave RPC -> process exit, median ms" \
    "$(echo "${LEAVE_MS[hamlet]:-}" | tr ' ' '\n' | grep . | median)" \
    "$(echo "${LEAVE_MS[serf]:-}" | tr ' ' '\n' | grep . | median)" low
row "\`serf members\` CLI at this agent, ms/call" "$CLI_SERF_H" "$CLI_SERF_S" low
row "\`hamlet members\` CLI at this agent, ms/call" "$CLI_HAM_H" "$CLI_HAM_S" low
echo "agents: hamletd ${HEALTH:-all fine, no ERR/WARN line}; serf ERR/WARN lines: $SERF_WARN;" \
    "run took $(( $(date +%s) - T_START )) s"
} | tee "$W/table"
