#!/bin/sh
# Fuzzes mod_rpc's request path (t/fuzz/fuzz_rpc.c) for a bounded time with
# libFuzzer (clang, ASan + UBSan), from seeds that are valid sessions of
# every command.  Fails (never skips) when clang or libFuzzer is missing.
# FUZZ_SECONDS (default 20) bounds the run.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
secs=${FUZZ_SECONDS:-20}
. "$top_srcdir/t/lib.sh"
tap_init fuzz-rpc

CC=${FUZZ_CC:-clang}
srcs="t/fuzz/fuzz_rpc.c modules/rpc/mod_rpc.c modules/rpc/rpc_cmds.c modules/rpc/rpc_stream.c
      modules/rpc/rpc_ext.c core/hm_rpcwire.c core/hm_types.c"
files=
for s in $srcs; do files="$files $top_srcdir/$s"; done
san="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# shellcheck disable=SC2086
"$CC" -g -O1 $san -I"$top_srcdir/core/include" -I"$top_srcdir/core" $files \
    $(pkg-config --cflags --libs libevent msgpack) -o "$dir/fuzz_rpc" 2>"$dir/build.log"
rc=$?
check $rc "fuzz_rpc builds with clang -fsanitize=fuzzer,address,undefined"
[ $rc = 0 ] || { cat "$dir/build.log" >&2; echo "1..$n"; exit 1; }

# Seeds: option byte + a handshake + one command each.
mkdir -p "$dir/seeds" "$dir/corpus"
/usr/bin/python3 - "$dir/seeds" <<'PY'
import msgpack, os, sys
d = sys.argv[1]
p = lambda *o: b"".join(msgpack.packb(x, use_bin_type=True) for x in o)
hs = p({"Command": "handshake", "Seq": 1}, {"Version": 1})
cmds = [
    ("members", None), ("members-filtered", {"Tags": {"role": "w.*"}, "Status": "alive", "Name": ""}),
    ("event", {"Name": "e", "Payload": b"x", "Coalesce": True}),
    ("force-leave", {"Node": "n2", "Prune": True}), ("join", {"Existing": ["a:1"], "Replay": False}),
    ("tags", {"Tags": {"a": "b"}, "DeleteTags": ["c"]}), ("stream", {"Type": "*"}),
    ("monitor", {"LogLevel": "debug"}), ("stop", {"Stop": 2}), ("leave", None),
    ("query", {"FilterNodes": ["n1"], "FilterTags": {"r": "x"}, "RequestAck": True,
               "RelayFactor": 1, "Timeout": 1000000, "Name": "q", "Payload": b"p"}),
    ("respond", {"ID": 1, "Payload": b"r"}), ("install-key", {"Key": "a2V5"}),
    ("list-keys", None), ("stats", None), ("get-coordinate", {"Node": "n1"}),
    ("x-echo", {"Key": "k"}), ("auth", {"AuthKey": "k"}),
]
for i, (c, b) in enumerate(cmds):
    objs = [{"Command": c, "Seq": 2}] + ([b] if b is not None else [])
    tail = p({"Command": "stream", "Seq": 3}, {"Type": "user,query"}) + \
           p({"Command": "event", "Seq": 4}, {"Name": "e", "Payload": b"", "Coalesce": False})
    open(os.path.join(d, "s%02d" % i), "wb").write(bytes([i & 1]) + hs + p(*objs) + tail)
PY
check $? "seeds written"

(cd "$dir" && ./fuzz_rpc -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix=rpc- corpus seeds) > "$dir/fuzz.log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log")
if [ $rc != 0 ]; then
    grep -E 'ERROR|SUMMARY|==[0-9]+==' "$dir/fuzz.log" | head -20 | sed 's/^/# /'
    for a in "$dir"/rpc-*; do [ -f "$a" ] && od -An -tx1 "$a" | head -5 | sed 's/^/# /'; done
fi
check $rc "fuzz_rpc: ${secs}s, ${runs:-0} inputs, no crash, leak or UB"
[ "${runs:-0}" -gt 100 ]; check $? "fuzz_rpc ran more than 100 inputs"
done_testing
