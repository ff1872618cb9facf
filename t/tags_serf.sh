#!/bin/sh
# mod_tags' Serf filters against the real serf: one agent with tags; for each
# filter of the table, is the node listed by `serf members -tag` (anchored)
# and does it ack `serf query -tag` (unanchored)?  Our evaluator
# (t/tags-eval) must give the same answer for every row.
. "${top_srcdir:-.}/t/lib.sh"
EVAL="$top_builddir/t/tags-eval"
TAGS='role=web,dc=east-1,cpu=8,env=prod,empty='
tap_init tags-serf 21000
rpc="127.0.62.1:$rpc"

serf agent -node=t1 -bind="127.0.62.1:$port" -rpc-addr="$rpc" \
    -tag role=web -tag dc=east-1 -tag cpu=8 -tag env=prod -tag empty= \
    >"$dir/agent.log" 2>&1 &
pids="$pids $!"
until_ok serf members -rpc-addr="$rpc" || bail "serf agent answers RPC"
ok "serf agent answers RPC"

# key<TAB>regexp rows in t/tags-table.txt (the regexps Serf users write,
# and the corners of RE2 -> ERE: alternation precedence under ^..$, (?:),
# (?i), \d \w \s, classes, escapes, empty and missing tags).
cp "$top_srcdir/t/tags-table.txt" "$dir/table"

members_serf() {
    serf members -rpc-addr="$rpc" -tag "$1=$2" 2>/dev/null | grep -c '^t1 ' | tr -d ' '
}

# One query per row (concurrent queries can lose acks in serf, so serially);
# a short timeout, and a missing ack is asked again with a longer one.
query_serf() {
    serf query -rpc-addr="$rpc" -timeout="$3" -tag "$1=$2" hm-tags-probe 2>&1 |
        grep -c "Ack from 't1'" | tr -d ' '
}

i=0
while IFS='	' read -r key re; do
    i=$((i + 1))
    want=$(members_serf "$key" "$re")
    got=$("$EVAL" members "$TAGS" "$key=$re")
    if [ "$want" = "$got" ]; then ok "members -tag '$key=$re': serf $want, ours $got"
    else notok "members -tag '$key=$re': serf $want, ours $got"; fi
    gotq=$("$EVAL" query "$TAGS" "$key=$re")
    wantq=$(query_serf "$key" "$re" 300ms)
    [ "$wantq" = "$gotq" ] || wantq=$(query_serf "$key" "$re" 2s)
    if [ "$wantq" = "$gotq" ]; then ok "query -tag '$key=$re': serf $wantq, ours $gotq"
    else notok "query -tag '$key=$re': serf $wantq, ours $gotq"; fi
done <"$dir/table"

done_testing
