#!/bin/sh
# t/check.sh: install what is missing, build, and run the whole test suite
# (`make -j2 check`).  Prints the test-suite summary, then one plain line
# "N passed, N failed" counted from the .trs results of this run; exits
# non-zero on any failure.  Extra arguments go to ./configure.
set -u
cd "$(dirname "$0")/.." || exit 1
. contrib/deps.sh
hamlet_deps_install || { echo "==> could not install the dependencies" >&2; exit 1; }
hamlet_build "$@" || { echo "==> build failed" >&2; exit 1; }

W=$(mktemp -d /tmp/hamlet-check.XXXXXX)
trap 'rm -rf "$W"' EXIT
touch "$W/stamp"
{ make -j2 check 2>&1; echo $? > "$W/rc"; } | tee "$W/out"
rc=$(cat "$W/rc")

echo
# automake's summary block, then the tests that did not pass
sed -n '/^Testsuite summary/,/^# ERROR:/p' "$W/out"
grep -E '^(FAIL|ERROR|XPASS):' "$W/out" || true
# one ":test-result:" line per test point in each .trs written by this run
set -- $(find . -path ./hamlet-* -prune -o -name '*.trs' -newer "$W/stamp" -print |
    xargs cat 2>/dev/null |
    awk '/^:test-result: (PASS|SKIP|XFAIL)/ { p++ }
         /^:test-result: (FAIL|ERROR|XPASS)/ { f++ }
         END { print p + 0, f + 0 }')
echo "$1 passed, $2 failed"
[ "$rc" -eq 0 ] && [ "$2" -eq 0 ]
