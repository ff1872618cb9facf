# Shell helpers for the rpc tests (sourced, on top of t/lib.sh): free
# ports, real serf agents and hamletd started with them, polling with
# deadlines, comparisons of hamlet's and serf's output.
. "${top_srcdir:-.}/t/lib.sh"
H=$HAMLET
PY=/usr/bin/python3
tap_init rpc-test

# same "desc" "$a" "$b": equal strings, with a diff on failure
same() {
    if [ "$2" = "$3" ]; then ok "$1"; else
        notok "$1"
        printf '%s\n' "$2" > "$dir/a"; printf '%s\n' "$3" > "$dir/b"
        diff "$dir/a" "$dir/b" | sed 's/^/# /'
    fi
}
# Before the plan: no daemon log holds a sanitizer report (ASan builds).
done_testing() {
    if grep -l 'ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer' \
        "$dir"/*.log >/dev/null 2>&1; then
        notok "no sanitizer report in the daemons' logs"
        grep -h -A8 'ERROR: AddressSanitizer\|runtime error:' "$dir"/*.log | sed 's/^/# /'
    else
        ok "no sanitizer report in the daemons' logs"
    fi
    echo "1..$n"
    exit $fail
}

# poll SECONDS CMD...: rerun CMD until it succeeds or the deadline passes
poll() {
    _end=$(( $(date +%s) + $1 )); shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$(date +%s)" -ge "$_end" ] && return 1
        sleep 0.1
    done
}

# start_serf NAME [agent flags...]: sets ${NAME}_RPC, ${NAME}_BIND, ${NAME}_PID
start_serf() { start_agent serf "$@"; }
# start_hamletd NAME [flags...]: the same for hamletd
start_hamletd() { start_agent hamletd "$@"; }
start_agent() { # start_agent serf|hamletd NAME [flags...]
    _kind=$1 _name=$2; shift 2
    _gp=$(free_port); _rp=$(free_port)
    set -- -node "$_name" -bind "127.0.0.1:$_gp" -rpc-addr "127.0.0.1:$_rp" -log-level debug "$@"
    if [ "$_kind" = serf ]; then
        serf agent "$@" > "$dir/$_name.log" 2>&1 &
    else
        "$HAMLETD" "$@" > "$dir/$_name.log" 2>&1 &
    fi
    _pid=$!
    pids="$pids $_pid"
    eval "${_name}_RPC=127.0.0.1:$_rp ${_name}_BIND=127.0.0.1:$_gp ${_name}_PID=$_pid"
    # "up" = its RPC port answers (auth errors still prove it listens)
    poll 20 sh -c "serf members -rpc-addr 127.0.0.1:$_rp | grep -qv 'Error connecting'"
}

# count of alive members seen by the agent at RPC address $1
alive_count() { serf members -rpc-addr "$1" -status alive $2 | grep -c .; }
has_alive() { [ "$(alive_count "$1" "$3")" = "$2" ]; }

# sorted lines without trailing blanks (only the last line of a table
# lacks them, and Serf's order is random), with the comma-separated tag list of each line sorted too
sortlines() {
    printf '%s\n' "$1" | $PY -c '
import re, sys
fix = lambda m: ",".join(sorted(m.group(0).split(",")))
for l in sorted(re.sub(r"\S+=\S*(,\S+=\S*)+", fix, l.rstrip()) for l in sys.stdin):
    print(l)'
}

# both ARGS...: run hamlet and serf with ARGS, set HO/SO and HRC/SRC
both() {
    HO=$($H "$@"); HRC=$?
    SO=$(serf "$@"); SRC=$?
}
# serf_ok PATTERN CMD...: serf CMD must exit 0 and print PATTERN (grep -E)
serf_ok() {
    _want=$1; shift
    _out=$(serf "$@"); _rc=$?
    if [ $_rc = 0 ] && printf '%s\n' "$_out" | grep -Eq -- "$_want"; then ok "serf $*"
    else notok "serf $* (rc $_rc: $_out)"; fi
}
# JSON of `members -format json` with members sorted by name
norm_members() {
    printf '%s' "$1" | $PY -c '
import json, sys
d = json.load(sys.stdin)
if d["members"]: d["members"].sort(key=lambda m: m["name"])
print(json.dumps(d, sort_keys=True))'
}
# relay NAME FILE: the "ok - "/"not ok - " lines a helper script wrote to
# FILE become our test points, its other lines comments
relay() {
    while IFS= read -r line; do
        case $line in
            "ok - "*) ok "$1: ${line#ok - }" ;;
            "not ok - "*) notok "$1: ${line#not ok - }" ;;
            *) echo "# $line" ;;
        esac
    done < "$2"
}
