# Helpers shared by the shell tests that start real processes (sourced as
# `. "${top_srcdir:-.}/t/lib.sh"`; make check exports absolute
# top_srcdir/top_builddir, also in the VPATH build of t/check.sh).
#   TAP: ok/notok DESC, check STATUS DESC, is GOT WANT DESC, bail DESC,
#        done_testing (the plan; exit status 1 if a point failed); check
#        and is return non-zero on failure, for `check $? DESC || show-why`.
#   tap_init NAME [BASE]: a temp dir $dir, removed at exit unless KEEP is
#        set; with BASE, $port = BASE + $$ % 9000 and $rpc = $port + 1.
#        Each test has its own BASE and 127.0.X.Y addresses: tests run in
#        parallel, and the PID spreads runs of one test apart.
#   Processes whose PIDs are in $pids are killed at exit; a test that
#   leaves more behind defines test_cleanup.
#   until_ok CMD...: poll CMD quietly, every 50 ms, ${TRIES:-400} times.
#   free_port, fresh_addr, sort_record_tags: see below.
: "${top_builddir:=.}" "${top_srcdir:=.}"
HAMLETD="$top_builddir/core/hamletd"
HAMLET="$top_builddir/core/hamlet"
# absolute: some tests write it into a YAML file read by another process
MODS="$top_builddir/modules"
case "$MODS" in /*) ;; *) MODS="$PWD/$MODS" ;; esac
n=0
fail=0
pids=
dir=

ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }
check() { if [ "$1" = 0 ]; then shift; ok "$@"; else shift; notok "$@"; return 1; fi; }
is() {
    if [ "$1" = "$2" ]; then ok "$3"; else
        notok "$3"
        echo "#   got:      $1"
        echo "#   expected: $2"
        return 1
    fi
}
# a failure the rest of the test cannot go on from
bail() { notok "$*"; echo "1..$n"; exit 1; }
done_testing() { echo "1..$n"; exit $fail; }

until_ok() {
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt "${TRIES:-400}" ] && return 1; sleep 0.05
    done
}

test_cleanup() { :; }
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    test_cleanup
    [ -z "$dir" ] || [ -n "${KEEP:-}" ] || rm -rf "$dir"
}

tap_init() {
    dir=$(mktemp -d "/tmp/hm-$1-XXXXXX")
    if [ -n "${2:-}" ]; then
        port=$(($2 + $$ % 9000))
        rpc=$((port + 1))
    fi
    trap cleanup EXIT
    trap 'exit 1' INT TERM # so that an interrupted run cleans up too
}

# free_port: a port of 127.0.0.1 free for TCP and UDP right now
free_port() {
    /usr/bin/python3 -c '
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); break
    except OSError:
        pass
    finally:
        u.close(); t.close()
print(p)'
}

# fresh_addr PREFIX: PREFIX (127 or 127.0) completed with random octets to
# an address nothing listens on yet, for tests that keep the default ports
fresh_addr() {
    for _try in 1 2 3 4 5 6 7 8 9 10; do
        _a=$1 _o=20 _m=200
        while [ "$(printf %s "$_a" | tr -cd . | wc -c)" -lt 3 ]; do
            _a="$_a.$(($(od -An -N1 -tu1 /dev/urandom) % _m + _o))" _o=2 _m=250
        done
        ss -lntu 2>/dev/null | grep -q " $_a:" || break
    done
    echo "$_a"
}

# sort_record_tags [FILE]: a handler record (t/handlers-record.sh) with the
# k=v list of its member lines (4th tab field) sorted, to drop Go's map order
sort_record_tags() {
    awk -F'\t' 'BEGIN { OFS = "\t" }
        /^--stdin--$/ { s = 1; print; next }
        s && NF == 4 {
            k = split($4, a, ",")
            for (i = 2; i <= k; i++) { v = a[i]; j = i - 1
                while (j > 0 && a[j] > v) { a[j + 1] = a[j]; j-- } a[j + 1] = v }
            t = ""; for (i = 1; i <= k; i++) t = t (i > 1 ? "," : "") a[i]
            $4 = t; print; next }
        { print }' "$@"
}
