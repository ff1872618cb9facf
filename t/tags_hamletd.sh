#!/bin/sh
# Tag filters end to end in a mixed cluster: serf s1 and hamletd h1 carry
# the same tags.  For every filter of t/tags-table.txt:
#   - `serf members -tag` through h1's RPC (mod_rpc -> mod_tags "tags")
#     lists exactly the nodes that s1's RPC lists;
#   - `serf query -tag` sent from s1 is acked by h1 exactly when s1 acks it
#     (h1 deciding whether the query is for it).
. "${top_srcdir:-.}/t/lib.sh"
tap_init tags-hamletd 27000
S1="127.0.69.1:$rpc"
H1="127.0.69.2:$rpc"
TAGS="-tag role=web -tag dc=east-1 -tag cpu=8 -tag env=prod -tag empty="
serf agent -node=s1 -bind="127.0.69.1:$port" -rpc-addr="$S1" $TAGS >"$dir/s1.log" 2>&1 &
pids="$pids $!"
until_ok serf members -rpc-addr="$S1" || bail "serf s1 up"
"$HAMLETD" -node=h1 -bind="127.0.69.2:$port" -rpc-addr="$H1" -module-path="$MODS" $TAGS \
    -join="127.0.69.1:$port" >"$dir/h1.log" 2>&1 &
pids="$pids $!"
both() { [ "$(serf members -rpc-addr="$1" -status=alive | wc -l)" = 2 ]; }
until_ok both "$S1" && until_ok both "$H1" || bail "s1 and h1 see each other"
ok "s1 and h1 see each other"

names() { serf members -rpc-addr="$1" -tag "$2=$3" 2>/dev/null | awk '{print $1}' | sort | tr '\n' ' '; }
acks() {
    serf query -rpc-addr="$S1" -timeout="$3" -tag "$1=$2" hm-tags-probe 2>&1 |
        sed -n "s/^Ack from '\(.*\)'$/\1/p" | sort | tr '\n' ' '
}

# Every row must agree with serf: member filters go through mod_tags, query
# filters through the Serf layer's core/hm_regex.c (both translate Go's RE2
# syntax to POSIX).

while IFS='	' read -r key re; do
    want=$(names "$S1" "$key" "$re")
    got=$(names "$H1" "$key" "$re")
    if [ "$want" = "$got" ]; then ok "members -tag '$key=$re' through h1: [$got]"
    else notok "members -tag '$key=$re' through h1: [$got], serf: [$want]"; fi
    a=$(acks "$key" "$re" 300ms)
    case "$a" in "h1 s1 "|"") ;; *) a=$(acks "$key" "$re" 2s) ;; esac
    if [ "$a" = "h1 s1 " ] || [ "$a" = "" ]; then
        ok "query -tag '$key=$re': h1 acks as s1 does [$a]"
    else
        notok "query -tag '$key=$re': acks [$a] (h1 and s1 must agree)"
    fi
done <"$top_srcdir/t/tags-table.txt"
done_testing
