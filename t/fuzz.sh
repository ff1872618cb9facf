#!/bin/sh
# Fuzzes every wire decoder for a bounded time with libFuzzer (clang,
# ASan + UBSan), starting from seeds generated from the test vectors.
# Fails (never skips) if clang or libFuzzer is missing.
# FUZZ_SECONDS (default 15) bounds each harness.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
secs=${FUZZ_SECONDS:-15}
harnesses="mlwire lzw serfwire pushpull"
. "$top_srcdir/t/lib.sh"
tap_init fuzz

CC=${FUZZ_CC:-clang}
srcs="core/hm_mpack.c core/hm_lzw.c core/hm_mlwire.c core/hm_serfwire.c core/hm_types.c"
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
inc="-I$top_srcdir/core/include -I$top_srcdir/core"

if ! command -v "$CC" >/dev/null 2>&1; then
    check 1 "clang is installed (needed for libFuzzer)"
    echo "1..$n"
    exit 1
fi

# The library once, instrumented for coverage; the harnesses link it.
objs=
rc=0
for s in $srcs; do
    o="$dir/$(basename "$s" .c).o"
    "$CC" -g -O1 -fsanitize=fuzzer-no-link $san $inc -c "$top_srcdir/$s" -o "$o" \
        2>>"$dir/build.log" || rc=1
    objs="$objs $o"
done
check $rc "wire sources build with -fsanitize=fuzzer-no-link,address,undefined"
[ $rc = 0 ] || { cat "$dir/build.log" >&2; echo "1..$n"; exit 1; }

"$CC" -g -O1 $inc "$top_srcdir/t/fuzz/seeds.c" $objs $san -lz -lm -o "$dir/seeds" \
    2>>"$dir/build.log" && "$dir/seeds" "$dir/seeds.d" "$top_srcdir/t/data/serf-capture.txt" >/dev/null
check $? "seed corpora generated from the test vectors"

for h in $harnesses; do
    if ! "$CC" -g -O1 -fsanitize=fuzzer $san $inc "$top_srcdir/t/fuzz/fuzz_$h.c" $objs \
        -lz -lm -o "$dir/fuzz_$h" 2>>"$dir/build.log"; then
        check 1 "fuzz_$h builds"
        cat "$dir/build.log" >&2
        continue
    fi
    mkdir -p "$dir/corpus_$h" "$dir/seeds.d/$h"
    (cd "$dir" && "./fuzz_$h" -max_total_time="$secs" -max_len=16384 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$h-" "corpus_$h" "seeds.d/$h") \
        >"$dir/fuzz_$h.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz_$h.log")
    if [ $rc != 0 ]; then
        tail -n 40 "$dir/fuzz_$h.log" >&2
        for c in "$dir/$h"-*; do
            [ -f "$c" ] && echo "# input: $(od -An -tx1 -v "$c" | tr -d ' \n')" >&2
        done
    fi
    check $rc "fuzz_$h ran ${secs}s without a crash (${runs:-?} inputs)"
done
done_testing
