"""A client that floods requests without reading the answers: the server
must stop reading it (bounded memory), keep serving others, and answer
every request once the client reads again.

    rpc_flood.py HOST:PORT SERVER_PID N
"""
import socket, sys, time
import msgpack

host, port = sys.argv[1].rsplit(":", 1)
pid, n = int(sys.argv[2]), int(sys.argv[3])

def rss_mb():
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) / 1024.0
    return -1

def check(cond, desc):
    print(("ok - " if cond else "not ok - ") + desc, flush=True)

def conn():
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(msgpack.packb({"Command": "handshake", "Seq": 0}) + msgpack.packb({"Version": 1}))
    return s

base = rss_mb()
f = conn()
f.setblocking(False)
req = b"".join(msgpack.packb({"Command": "members", "Seq": i + 1}) for i in range(n))
sent, stalled = 0, time.time()
while sent < len(req) and time.time() - stalled < 1.0:  # until the server stops taking
    try:
        sent += f.send(req[sent:sent + 65536])
        stalled = time.time()
    except BlockingIOError:
        time.sleep(0.01)
time.sleep(0.5)
grown = rss_mb() - base
check(grown < 64, "flooding client (%d of %d bytes taken): server grew %.1f MB" %
      (sent, len(req), grown))
o = conn()
u = msgpack.Unpacker(raw=False)
o.sendall(msgpack.packb({"Command": "members", "Seq": 1}))
got = []
while len(got) < 3:
    u.feed(o.recv(65536))
    got.extend(u)
check(got[1]["Error"] == "" and got[2]["Members"], "another client is served meanwhile")
f.setblocking(True)
f.settimeout(30)
import threading
rest = threading.Thread(target=f.sendall, args=(req[sent:],))
rest.start()
u = msgpack.Unpacker(raw=False)
headers, last = 0, 0
while headers < n + 1:
    data = f.recv(1 << 20)
    if not data:
        break
    u.feed(data)
    for o2 in u:
        if "Seq" in o2 and "Error" in o2:
            headers += 1
            last = o2["Seq"]
rest.join()
check(headers == n + 1 and last == n, "all %d answers arrive once the client reads (%d)" %
      (n, headers - 1))
