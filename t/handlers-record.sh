#!/bin/sh
# A Serf event handler that records what it was given: its SERF_*
# environment (sorted) and its standard input, one file per invocation in
# $HM_RECORD_DIR.  Queries are answered with a line naming the query.
dir=${HM_RECORD_DIR:?}
f=$(mktemp "$dir/rec.XXXXXX") || exit 1
{
    env | grep '^SERF_' | LC_ALL=C sort
    echo '--stdin--'
    cat
} >"$f.tmp"
# Name records by arrival: seconds.nanoseconds keep the order of events.
mv "$f.tmp" "$dir/$(date +%s.%N).rec"
rm -f "$f"
if [ "$SERF_EVENT" = query ]; then
    echo "answer from $SERF_SELF_NAME to $SERF_QUERY_NAME"
fi
