#!/bin/sh
# hamletd's handlers never block the daemon: a hanging handler (which also
# started a background child) is killed with its process group at its
# timeout while a query handler still answers; a handler flooding output is
# bounded and killed; a handler that forks and exits completes at once and
# leaves no zombie.  Events come from a serf agent in the same cluster.
: "${top_builddir:=.}"
HAMLETD="$top_builddir/core/hamletd"
MODS="$top_builddir/modules"
case "$MODS" in /*) ;; *) MODS="$PWD/$MODS" ;; esac
dir=$(mktemp -d /tmp/hm-handlers-robust-XXXXXX)
port=$((26000 + $$ % 9000))
rpc=$((port + 1))
pids=
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for f in hang bg fork; do
        [ -s "$dir/$f.pid" ] && kill -9 "$(cat "$dir/$f.pid")" 2>/dev/null
    done
    [ -n "$KEEP" ] || rm -rf "$dir"
}
trap cleanup EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { if [ "$1" = 0 ]; then shift; ok "$@"; else shift; notok "$@"; fi; }
bail() { notok "$*"; echo "1..$n"; exit 1; }
until_ok() {
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt 400 ] && return 1; sleep 0.05
    done
}
# A process is gone when it does not exist or is a zombie nobody reaped yet
# outside hamletd (reparented children are init's business).
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
pid_gone() { [ -s "$dir/$1.pid" ] && gone "$(cat "$dir/$1.pid")"; }
logged() { grep -q "$1" "$dir/h1.log"; }
alive_h1() { serf members -rpc-addr="127.0.68.1:$rpc" -status=alive | grep -q '^h1 '; }

cat >"$dir/h1.yaml" <<YAML
node_name: h1
bind: "127.0.68.2:$port"
join: ["127.0.68.1:$port"]
module_path: ["$MODS"]
log_level: debug
rpc:
  addr: "127.0.68.2:$rpc"
handlers:
  concurrency: 2
  event_handlers:
    - "query:ask=echo answered"
  handlers:
    - event: "user:hang"
      command: "echo \$\$ > $dir/hang.pid; sleep 300 & echo \$! > $dir/bg.pid; wait"
      timeout: 5s
    - event: "user:flood"
      command: "yes flood"
      timeout: 1s
    - event: "user:fork"
      command: "sleep 300 & echo \$! > $dir/fork.pid"
YAML

serf agent -node=s1 -bind="127.0.68.1:$port" -rpc-addr="127.0.68.1:$rpc" \
    >"$dir/s1.log" 2>&1 &
pids="$pids $!"
until_ok serf members -rpc-addr="127.0.68.1:$rpc" || bail "serf s1 up"
"$HAMLETD" -c "$dir/h1.yaml" >"$dir/h1.log" 2>&1 &
h1=$!
pids="$pids $h1"
until_ok alive_h1 || bail "h1 joined"
ok "h1 joined"

serf event -rpc-addr="127.0.68.1:$rpc" -coalesce=false hang >/dev/null 2>&1
until_ok test -s "$dir/bg.pid" || bail "hanging handler started"
ok "hanging handler started (pid $(cat "$dir/hang.pid"), child $(cat "$dir/bg.pid"))"
serf query -rpc-addr="127.0.68.1:$rpc" -timeout=2s ask >"$dir/q.out" 2>&1
grep -q "Response from 'h1': answered" "$dir/q.out"
check $? "a query is answered while the hanging handler runs"
pid_gone hang
check $((! $?)) "the hanging handler was still running then"
until_ok pid_gone hang
check $? "hanging handler killed at its timeout"
until_ok pid_gone bg
check $? "its background child killed with the process group"
logged "Error invoking script 'echo.*killed after 5000ms timeout"
check $? "timeout logged"

serf event -rpc-addr="127.0.68.1:$rpc" -coalesce=false flood >/dev/null 2>&1
until_ok logged "Script 'yes flood' generated [0-9]* bytes of output, truncated to 8192"
check $? "flood: output bounded to the last 8 KiB (logged)"
until_ok logged "Error invoking script 'yes flood': killed after 1000ms timeout"
check $? "flood: killed at its timeout"

serf event -rpc-addr="127.0.68.1:$rpc" -coalesce=false fork >/dev/null 2>&1
until_ok test -s "$dir/fork.pid"
check $? "forking handler ran"
until_ok logged "Received event: user-event: fork"
pid_gone fork
check $((! $?)) "its background child lives on (not our business, as in Serf)"
# The handler's shell exited; hamletd reaped it: no zombie child of h1.
until_ok sh -c "! ps -o stat= --ppid $h1 | grep -q Z"
check $? "no zombie left under hamletd"
alive_h1
check $? "h1 still alive in s1's view"
kill -0 "$h1" 2>/dev/null
check $? "hamletd still running"
echo "1..$n"
