#!/bin/sh
# hamletd's handlers never block the daemon: a hanging handler (which also
# started a background child) is killed with its process group at its
# timeout while a query handler still answers; a handler flooding output is
# bounded and killed; a handler that forks and exits completes at once and
# leaves no zombie.  Events come from a serf agent in the same cluster.
. "${top_srcdir:-.}/t/lib.sh"
tap_init handlers-robust 26000
# the handlers' processes, killed in case hamletd did not
test_cleanup() {
    for f in hang bg fork; do
        [ -s "$dir/$f.pid" ] && kill -9 "$(cat "$dir/$f.pid")" 2>/dev/null
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
done_testing
