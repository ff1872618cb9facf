#!/bin/sh
# The seed's three-site scenario on real processes: 12 agents (4+4+4) in
# network namespaces on one bridge; sites A and C cannot reach each other
# (both directions, every protocol), both reach B.  Counts, during the cut,
# the suspicions raised ("Suspect X has failed"), the refutations, and the
# false failures: EventMemberFailed / "Marking X as failed" about a node
# that is up (every node stays up here, so every failure is false).
#
# Not part of `make check`: it runs for minutes and needs root (ip netns,
# nftables).  No netem on these machines: every link is a veth pair into a
# bridge, so the latency is ~0.05 ms inside and between the sites.
#
#   contrib/netns/three_sites.sh [-a serf|hamletd] [-m MINUTES] [-n A,B,C]
#
# Measured here (Debian serf 0.9.4; 4+4+4, two runs of 10 min each):
#   serf agent:                      3 + 0 false failures, 264 + 278 suspicions
#   hamletd, verify_suspicions off:  0 + 1 false failures, 290 + 314 suspicions
#   hamletd (default):               0 + 0 false failures, 290 + 293 suspicions
# (hamletd's logs show 5 and 4 timed-out suspicions saved by its check.)
# With the check also asking the suspect itself (final engine, one run of
# 10 min): hamletd 0 false failures, 275 suspicions, 266 refutations.
#
# Environment: SERF (default: serf on PATH), HAMLETD (default
# ./core/hamletd), AGENT_ARGS (more flags for every agent, e.g.
# "-c memberlist.yaml" for hamletd), KEEP=1 keeps the logs (the directory
# is printed).
set -eu

AGENT=serf
MINUTES=5
SIZES=4,4,4
while getopts a:m:n: o; do
    case $o in
    a) AGENT=$OPTARG ;;
    m) MINUTES=$OPTARG ;;
    n) SIZES=$OPTARG ;;
    *) echo "usage: $0 [-a serf|hamletd] [-m minutes] [-n a,b,c]" >&2; exit 2 ;;
    esac
done
SA=${SIZES%%,*}; rest=${SIZES#*,}; SB=${rest%%,*}; SC=${rest#*,}
N=$((SA + SB + SC))
SERF=${SERF:-$(command -v serf || :)}
HAMLETD=${HAMLETD:-./core/hamletd}
case $AGENT in
serf) BIN=$SERF ;;
hamletd) BIN=$HAMLETD ;;
*) echo "unknown agent $AGENT" >&2; exit 2 ;;
esac
[ -x "$BIN" ] || { echo "no $AGENT binary ($BIN)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "needs root (ip netns, nft)" >&2; exit 2; }

P=hm3s$$ # namespace prefix, unique per run
SW=${P}sw
PORT=17946
RPC=17373
W=$(mktemp -d /tmp/three-sites.XXXXXX)
PIDS=

site_of() { # node index -> A, B or C
    if [ "$1" -lt "$SA" ]; then echo A; elif [ "$1" -lt $((SA + SB)) ]; then echo B; else echo C; fi
}
addr_of() { echo "10.203.0.$(($1 + 1))"; }

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || :; done
    sleep 1
    for p in $PIDS; do kill -9 "$p" 2>/dev/null || :; done
    i=0
    while [ $i -lt "$N" ]; do ip netns del "$P$i" 2>/dev/null || :; i=$((i + 1)); done
    ip netns del "$SW" 2>/dev/null || :
    if [ -n "${KEEP:-}" ]; then echo "logs kept in $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- the network: one bridge in a switch namespace, a veth per host -------
ip netns add "$SW"
ip -n "$SW" link add br0 type bridge
ip -n "$SW" link set br0 up
ip -n "$SW" link set lo up
i=0
while [ $i -lt "$N" ]; do
    ns=$P$i
    ip netns add "$ns"
    ip link add "${P}h$i" type veth peer name "${P}s$i"
    ip link set "${P}h$i" netns "$ns"
    ip link set "${P}s$i" netns "$SW"
    ip -n "$ns" link set "${P}h$i" name eth0
    ip -n "$ns" addr add "$(addr_of $i)/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$SW" link set "${P}s$i" master br0
    ip -n "$SW" link set "${P}s$i" up
    i=$((i + 1))
done

# --- the agents ------------------------------------------------------------
start_agent() { # index
    n=$1 ns=$P$1
    ev="member-failed=cat >> $W/n$n.failed"
    if [ "$AGENT" = serf ]; then
        ip netns exec "$ns" "$BIN" agent -node="n$n" -bind="$(addr_of "$n"):$PORT" \
            -rpc-addr=127.0.0.1:$RPC -log-level=debug -event-handler="$ev" ${AGENT_ARGS:-} \
            >"$W/n$n.log" 2>&1 &
    else
        ip netns exec "$ns" "$BIN" -node="n$n" -bind="$(addr_of "$n"):$PORT" \
            -rpc-addr=127.0.0.1:$RPC -log-level=debug -event-handler="$ev" ${AGENT_ARGS:-} \
            >"$W/n$n.log" 2>&1 &
    fi
    PIDS="$PIDS $!"
}
members() { # index -> `serf members` output of that node
    ip netns exec "$P$1" "$SERF" members -rpc-addr=127.0.0.1:$RPC 2>/dev/null || :
}
alive_count() { members "$1" | awk '$3 == "alive"' | wc -l; }
all_see_all() {
    i=0
    while [ $i -lt "$N" ]; do
        [ "$(alive_count $i)" -eq "$N" ] || return 1
        i=$((i + 1))
    done
}

i=0
while [ $i -lt "$N" ]; do start_agent $i; i=$((i + 1)); done
sleep 2
JOIN=$(addr_of "$SA"):$PORT # the first B node
i=0
while [ $i -lt "$N" ]; do
    [ "$i" -eq "$SA" ] || ip netns exec "$P$i" "$SERF" join -rpc-addr=127.0.0.1:$RPC "$JOIN" \
        >/dev/null
    i=$((i + 1))
done
t=0
until all_see_all; do
    t=$((t + 1))
    [ $t -lt 60 ] || { echo "not converged after 60 s" >&2; exit 1; }
    sleep 1
done
echo "# $AGENT, $SA+$SB+$SC nodes converged; cutting A<->C for $MINUTES min"

# --- the cut: drop A<->C on the bridge, both ways ---------------------------
aset= cset=
i=0
while [ $i -lt "$N" ]; do
    case $(site_of $i) in
    A) aset="$aset${aset:+, }$(addr_of $i)" ;;
    C) cset="$cset${cset:+, }$(addr_of $i)" ;;
    esac
    i=$((i + 1))
done
i=0
while [ $i -lt "$N" ]; do wc -l <"$W/n$i.log" >"$W/n$i.start"; i=$((i + 1)); done
ip netns exec "$SW" nft -f - <<EOF
table bridge cut {
    chain forward {
        type filter hook forward priority 0; policy accept;
        ip saddr { $aset } ip daddr { $cset } counter drop
        ip saddr { $cset } ip daddr { $aset } counter drop
    }
}
EOF
sleep $((MINUTES * 60))
dropped=$(ip netns exec "$SW" nft list table bridge cut | grep -o 'packets [0-9]*' |
    awk '{ s += $2 } END { print s + 0 }')

# --- figures: log lines written during the cut -------------------------------
during() { # index -> the log lines written since the cut
    tail -n +"$(($(cat "$W/n$1.start") + 1))" "$W/n$1.log"
}
sus=0 marked=0 failed=0 refuted=0
i=0
while [ $i -lt "$N" ]; do
    during $i >"$W/n$i.cut"
    s=$(grep -c 'Suspect .* has failed, no acks received' "$W/n$i.cut" || :)
    m=$(grep -c 'Marking .* as failed' "$W/n$i.cut" || :)
    f=$(grep -c 'EventMemberFailed' "$W/n$i.cut" || :)
    r=$(grep -c 'Refuting a' "$W/n$i.cut" || :)
    h=$(cat "$W/n$i.failed" 2>/dev/null | wc -l)
    printf '# n%-2s site %s: %3s suspicions raised, %2s refutations, %s marked failed, ' \
        $i "$(site_of $i)" "$s" "$r" "$m"
    printf '%s EventMemberFailed, %s member-failed handler lines\n' "$f" "$h"
    grep -h 'EventMemberFailed\|Marking .* as failed' "$W/n$i.cut" | sed 's/^/#     /' || :
    sus=$((sus + s)) marked=$((marked + m)) failed=$((failed + f)) refuted=$((refuted + r))
    i=$((i + 1))
done
converged=no
all_see_all && converged=yes
echo "# packets dropped by the cut: $dropped"
echo "$AGENT $SA+$SB+$SC ${MINUTES}min: suspicions=$sus refutations=$refuted" \
    "marked_failed=$marked member_failed_events=$failed all_alive_at_end=$converged"
