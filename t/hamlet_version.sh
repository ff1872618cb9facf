#!/bin/sh
# hamlet version, keygen and the error when no agent answers (same text as serf).
. "${top_srcdir:-.}/t/lib.sh"
H=$HAMLET

out=$($H version); rc=$?
check $rc "version exits 0"
echo "$out" | head -1 | grep -q '^hamlet v[0-9]'; check $? "version names hamlet"
[ "$(echo "$out" | sed -n 2p)" = "Agent Protocol: 5 (Understands back to: 2)" ]
check $? "version names the Serf agent protocol"

key=$($H keygen); rc=$?
check $rc "keygen exits 0"
[ "$(printf %s "$key" | base64 -d 2>/dev/null | wc -c)" = 32 ]; check $? "keygen prints 32 bytes in base64"

# Port 1 on loopback: nobody listens there.
out=$($H members -rpc-addr 127.0.0.1:1); rc=$?
[ $rc = 1 ]; check $? "members without agent exits 1"
[ "$out" = "Error connecting to Serf agent: dial tcp 127.0.0.1:1: connect: connection refused" ]
check $? "connection error text ($out)"
sout=$(serf members -rpc-addr 127.0.0.1:1 2>&1)
[ "$out" = "$sout" ]; check $? "same text as serf"
out=$(SERF_RPC_ADDR=127.0.0.1:1 $H info); [ "$out" = "$sout" ]; check $? "SERF_RPC_ADDR honoured"

$H nosuchcommand >/dev/null 2>&1; [ $? = 127 ]; check $? "unknown subcommand exits 127"
done_testing
