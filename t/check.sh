#!/bin/sh
# t/check.sh: install what is missing, build, and run the whole test suite
# twice:
#   1. plain: in the source tree, `make -j2 check`;
#   2. sanitizers: ASan + UBSan (+ LSan), a VPATH build in build-asan/ with
#      `configure --enable-sanitizers`, `make -j2 check` again.
# Prints each stage's test-suite summary, then one plain line
# "N passed, N failed" counted from the .trs results of both stages; exits
# non-zero on any failure.  Extra arguments go to ./configure (both stages).
# HAMLET_CHECK_SANITIZERS=0 skips stage 2.
#
# Stage 2 builds a clean copy of the sources (`make distdir`, which also
# proves the tarball complete) in build-asan/src and the objects in
# build-asan/obj: automake refuses a VPATH build of a source tree that is
# itself configured, and make would pick up its in-tree objects anyway.
set -u
cd "$(dirname "$0")/.." || exit 1
. contrib/deps.sh
hamlet_deps_install || { echo "==> could not install the dependencies" >&2; exit 1; }
hamlet_build "$@" || { echo "==> build failed" >&2; exit 1; }

W=$(mktemp -d /tmp/hamlet-check.XXXXXX)
trap 'rm -rf "$W"' EXIT
touch "$W/stamp"
rc=0
broken=0 # a stage that could not even build counts as one failure

# stage NAME DIR: `make -j2 check` in DIR, output kept in $W/NAME.out
stage() {
    echo "==> $1: make -j2 check in $2"
    { (cd "$2" && make -j2 check 2>&1); echo $? > "$W/$1.rc"; } | tee "$W/$1.out"
    [ "$(cat "$W/$1.rc")" -eq 0 ] || rc=1
}

stage plain .

if [ "${HAMLET_CHECK_SANITIZERS:-1}" != 0 ]; then
    echo "==> sanitizers: build in build-asan/"
    rm -rf build-asan && mkdir -p build-asan/obj &&
        make distdir distdir=build-asan/src > "$W/distdir.out" 2>&1 &&
        (cd build-asan/obj && ../src/configure --enable-sanitizers "$@" > ../configure.log 2>&1 &&
            make -j2 > ../make.log 2>&1)
    if [ $? -eq 0 ]; then
        export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
        stage sanitizers build-asan/obj
    else
        echo "==> sanitizers: build failed (build-asan/configure.log, build-asan/make.log)" >&2
        tail -20 "$W/distdir.out" build-asan/*.log 2>/dev/null
        rc=1
        broken=1
        echo "FAIL: the sanitizer build" > "$W/sanitizers.out"
    fi
fi

echo
# per stage: automake's summary block, then the tests that did not pass
for s in plain sanitizers; do
    [ -f "$W/$s.out" ] || continue
    echo "==> $s"
    sed -n '/^Testsuite summary/,/^# ERROR:/p' "$W/$s.out"
    grep -E '^(FAIL|ERROR|XPASS):' "$W/$s.out" || true
done
# one ":test-result:" line per test point in each .trs written by this run
# (both stages: the plain tree and build-asan/obj)
set -- $(find . -path './hamlet-*' -prune -o -name '*.trs' -newer "$W/stamp" -print |
    xargs cat 2>/dev/null |
    awk '/^:test-result: (PASS|SKIP|XFAIL)/ { p++ }
         /^:test-result: (FAIL|ERROR|XPASS)/ { f++ }
         END { print p + 0, f + 0 }')
echo "$1 passed, $(($2 + broken)) failed"
[ "$rc" -eq 0 ] && [ "$2" -eq 0 ]
