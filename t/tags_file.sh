#!/bin/sh
# -tags-file under serf and under hamletd: the same `serf tags` changes
# leave files with the same JSON object (mode 0600), and hamletd restores
# its tags from the file at the next start.  The files are byte-identical
# (Go's encoder: sorted keys, HTML-safe escapes, \u2028, \ufffd for bad
# UTF-8 -- core/hm_tagsfile.c).
. "${top_srcdir:-.}/t/lib.sh"
PY=/usr/bin/python3
tap_init tags-file 28000
S1="127.0.71.1:$rpc"
H1="127.0.71.2:$rpc"
same_json() { "$PY" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$1" "$2"; }

serf agent -node=s1 -bind="127.0.71.1:$port" -rpc-addr="$S1" -tags-file="$dir/s1.tags" \
    >"$dir/s1.log" 2>&1 &
pids="$pids $!"
until_ok serf members -rpc-addr="$S1" || bail "serf up"
"$HAMLETD" -node=h1 -bind="127.0.71.2:$port" -rpc-addr="$H1" -module-path="$MODS" \
    -tags-file="$dir/h1.tags" >"$dir/h1.log" 2>&1 &
h1=$!
pids="$pids $h1"
until_ok serf members -rpc-addr="$H1" || bail "hamletd up"

odd="$(printf 'a\tb')=$(printf '\001\342\200\250\377\303\251')"
for a in "$S1" "$H1"; do
    serf tags -rpc-addr="$a" -set role=web -set 'x=<a&b> "q"' -set dc=east -set "$odd" \
        >/dev/null 2>&1
    serf tags -rpc-addr="$a" -delete dc >/dev/null 2>&1
done
until_ok test -s "$dir/h1.tags"
same_json "$dir/s1.tags" "$dir/h1.tags"
check $? "same JSON object in both files"
[ "$(stat -c %a "$dir/h1.tags")" = 600 ]
check $? "mode 0600"
if cmp -s "$dir/s1.tags" "$dir/h1.tags"; then ok "byte-identical to serf's file"
else notok "byte-identical to serf's file"; fi

kill "$h1"
wait "$h1" 2>/dev/null
"$HAMLETD" -node=h1 -bind="127.0.71.2:$port" -rpc-addr="$H1" -module-path="$MODS" \
    -tags-file="$dir/h1.tags" >"$dir/h1b.log" 2>&1 &
h1=$!
pids="$pids $h1"
until_ok serf members -rpc-addr="$H1" || bail "hamletd restarted"
serf members -rpc-addr="$H1" -format=json >"$dir/m.json" 2>&1
"$PY" -c 'import json,sys
m = [x for x in json.load(open(sys.argv[1]))["members"] if x["name"] == "h1"][0]
t = m["tags"]
sys.exit(len(t) != 3 or t.get("role") != "web" or t.get("x") != "<a&b> \"q\"")' "$dir/m.json"
check $? "tags restored from the file at restart"
done_testing
