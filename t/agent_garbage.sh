#!/bin/sh
# hamletd's network glue under bad input: random and truncated datagrams,
# garbage and half-finished TCP streams, idle connections, a flood of
# connections.  The daemon keeps running, keeps its membership with a real
# serf agent, and closes idle streams at the TCP deadline.
. "${top_srcdir:-.}/t/interop_lib.sh"

serf_start s1 -profile=local
hamlet_start h1 -profile=local -join=127.0.0.1:$s1_port
check "cluster formed" wait_for 10 serf_sees $s1_rpc h1 alive

/usr/bin/python3 - "$h1_port" <<'PY'
import os, random, socket, struct, sys, time
port = int(sys.argv[1])
random.seed(7)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
seeds = [b"\x00\x83\xa4Node\xa2h1\xa5SeqNo\x01", b"\x07\x02\x00\x01\x00\x01\x02\x03",
         b"\x09\x82\xa4Algo\x00\xa3Buf\xc4\x03\x00\x03\x02", b"\x0c\x00\x00\x00\x00\x08",
         b"\x08\x04\x81", b"\x08\x02", b"\x04\x85\xa4Node\xa1x"]
for i in range(3000):
    s = bytearray(random.choice(seeds))
    for _ in range(random.randint(0, 4)):
        s[random.randrange(len(s))] = random.randrange(256)
    if i % 5 == 0:
        s = bytes(random.randrange(256) for _ in range(random.randint(1, 1400)))
    u.sendto(bytes(s), ("127.0.0.1", port))
    if i % 200 == 0:
        time.sleep(0.01)
# garbage and truncated streams
for i in range(100):
    t = socket.create_connection(("127.0.0.1", port))
    kind = i % 4
    if kind == 0:
        t.sendall(bytes(random.randrange(256) for _ in range(random.randint(1, 3000))))
    elif kind == 1:
        t.sendall(b"\x06\x83\xa4Join\xc3\xa5Nodes\xce\xff\xff\xff\xff\xacUserStateLen\x00")
    elif kind == 2:
        t.sendall(b"\x0a\x00\x00\x10\x00" + b"x" * 100)
    else:
        t.sendall(b"\x09\x82\xa4Algo\x00\xa3Buf\xda\x10\x00abc")
    t.close()
PY
# idle connections: hamletd closes them at its TCP deadline (local profile: 1 s)
closed=$(/usr/bin/python3 - "$h1_port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
closed = 0
for c in idle:
    c.settimeout(max(0.1, 6 - 0))
    try:
        if c.recv(1) == b"":
            closed += 1
    except (socket.timeout, ConnectionResetError):
        pass
print(closed)
PY
)
check "20 idle inbound connections closed by hamletd at the TCP deadline ($closed)" test "$closed" -eq 20
check "hamletd survived the garbage" alive_pid $h1_pid
check "serf still sees hamletd alive" wait_for 10 serf_sees $s1_rpc h1 alive
check "hamletd still answers RPC" wait_for 10 serf_sees $h1_rpc s1 alive
serf_start s2 -profile=local -join=127.0.0.1:$h1_port
check "a new serf node can still join through hamletd" wait_for 10 serf_sees $s2_rpc h1 alive
check "no stream left hanging: hamletd's descriptors back to a handful" \
    wait_for 15 sh -c "[ \$(ls /proc/$h1_pid/fd | wc -l) -lt 30 ]"
plan
