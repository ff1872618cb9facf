#!/bin/sh
# hamletd with every module (rpc, tags, crypto, handlers, example), joined to
# a real `serf agent` on 127.0.0.1, exercised (members, an event run by a
# handler, a query answered by mod_example, a HUP reload), then stopped with
# SIGTERM: it must leave gracefully and exit 0 with no leak and no invalid
# memory access.  Plain build: under valgrind (definite/indirect leaks and
# memory errors are errors, exit code 3).  Sanitizer build (valgrind cannot
# run an ASan binary): under ASan/LSan with detect_leaks=1 (any report makes
# the exit status non-zero).  Polls with deadlines, never sleeps to a result.
. "${top_srcdir:-.}/t/lib.sh"
KEY=5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=
tap_init vg
# 127.0.0.1 as asked, on ports of our own (tests run in parallel): derived
# from the PID below the ephemeral range (32768+), checked free
for try in 1 2 3 4 5 6 7 8 9 10; do
    P1=$((10000 + ($$ * 7 + try * 131) % 22000))
    P2=$((P1 + 1)) R1=$((P1 + 2)) R2=$((P1 + 3))
    ss -lntu 2>/dev/null | grep -qE "127.0.0.1:($P1|$P2|$R1|$R2) " || break
done
# valgrind makes hamletd ~20x slower: polls wait up to 60 s
TRIES=1200
bail() { notok "$*"; sed 's/^/# /' "$dir/h.log" "$dir/vg.log" 2>/dev/null | tail -40; echo "1..$n"; exit 1; }

command -v serf >/dev/null || bail "serf is installed"
if grep -q __asan_init "$HAMLETD"; then
    MODE=asan
    RUN="env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=3"
else
    command -v valgrind >/dev/null || bail "valgrind is installed"
    MODE=valgrind
    RUN="valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
         --error-exitcode=3 --log-file=$dir/vg.log"
fi

serf agent -node=s1 -bind="127.0.0.1:$P1" -rpc-addr="127.0.0.1:$R1" -encrypt="$KEY" \
    >"$dir/s1.log" 2>&1 &
pids="$pids $!"
until_ok serf members -rpc-addr="127.0.0.1:$R1" || bail "serf s1 up"

cat >"$dir/h.yaml" <<EOF
node_name: v1
bind: "127.0.0.1:$P2"
join: ["127.0.0.1:$P1"]
broadcast_timeout: 2s
module_path: ["$MODS"]
modules: [rpc, tags, crypto, handlers, example]
rpc:
  addr: "127.0.0.1:$R2"
tags: {role: web}
crypto:
  encrypt_key: "$KEY"
handlers:
  event_handlers: ["user:deploy=cat > $dir/deploy.out"]
example:
  reply: hello
EOF
"$HAMLETD" -t -c "$dir/h.yaml" >"$dir/t.out" 2>&1
check $? "the configuration with every module checks" || sed 's/^/# /' "$dir/t.out"

# shellcheck disable=SC2086
$RUN "$HAMLETD" -c "$dir/h.yaml" >"$dir/h.log" 2>&1 &
HM_PID=$!
pids="$pids $HM_PID"
alive_in() { serf members -rpc-addr="$1" -status=alive 2>/dev/null | grep -q "^$2 "; }
# gives up at once if hamletd died
up_or_dead() { ! kill -0 "$HM_PID" 2>/dev/null || alive_in "127.0.0.1:$R1" v1; }
until_ok up_or_dead
kill -0 "$HM_PID" 2>/dev/null && alive_in "127.0.0.1:$R1" v1 || bail "serf s1 sees v1 alive ($MODE)"
ok "serf s1 sees hamletd v1 alive, encrypted ($MODE)"
until_ok alive_in "127.0.0.1:$R2" s1
check $? "hamletd's RPC lists s1 alive"

serf event -rpc-addr="127.0.0.1:$R1" deploy payload >/dev/null 2>&1
until_ok grep -q payload "$dir/deploy.out"
check $? "the handler ran for user:deploy"
serf query -rpc-addr="127.0.0.1:$R1" -timeout=5s -node=v1 example-ping >"$dir/q.out" 2>&1
grep -q "hello from v1" "$dir/q.out"
check $? "mod_example answered example-ping" || sed 's/^/# /' "$dir/q.out"

kill -HUP "$HM_PID"
until_ok grep -q "configuration reloaded" "$dir/h.log"
check $? "HUP: configuration reloaded"

kill -TERM "$HM_PID"
until_ok sh -c "! kill -0 $HM_PID 2>/dev/null"
check $? "TERM: exited"
wait "$HM_PID"
rc=$?
check "$rc" "exit status 0 (3: leak or memory error), got $rc"
if [ "$MODE" = valgrind ]; then
    grep -q "ERROR SUMMARY: 0 errors" "$dir/vg.log"
    check $? "valgrind: 0 errors"
    ! grep -qE "Invalid (read|write|free)|uninitialised|definitely lost: [1-9]|indirectly lost: [1-9]" \
        "$dir/vg.log"
    check $? "valgrind: no invalid access, no definite/indirect leak"
    [ "$rc" = 0 ] && [ "$fail" = 0 ] || sed 's/^/# /' "$dir/vg.log" | tail -60
else
    ! grep -qE "Sanitizer|runtime error" "$dir/h.log"
    check $? "no sanitizer report" || grep -A30 Sanitizer "$dir/h.log" | sed 's/^/# /'
fi
until_ok sh -c "serf members -rpc-addr=127.0.0.1:$R1 | grep -q '^v1 .* left'"
check $? "s1 saw v1 leave gracefully"

done_testing
