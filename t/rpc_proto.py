"""Raw Serf RPC sessions against a server: session rules, error strings,
streams, respond, monitor, bad input and many clients at once.

    rpc_proto.py HOST:PORT [AUTH_HOST:AUTH_PORT AUTH_KEY]

Prints "ok - ..." / "not ok - ..." lines (numbered by the calling script).
Facts checked are those of shared/spec/serf-rpc.md.
"""
import socket
import sys
import threading
import time

import msgpack

ADDR = sys.argv[1]
results = []


def check(cond, desc):
    results.append(cond)
    print(("ok - " if cond else "not ok - ") + desc, flush=True)


class Conn:
    def __init__(self, addr=ADDR):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=5)
        self.u = msgpack.Unpacker(raw=False)
        self.seq = 0

    def send(self, *objs):
        self.s.sendall(b"".join(msgpack.packb(o, use_bin_type=True) for o in objs))

    def req(self, cmd, body=None, seq=None):
        if seq is None:
            self.seq += 1
            seq = self.seq
        objs = [{"Command": cmd, "Seq": seq}]
        if body is not None:
            objs.append(body)
        self.send(*objs)
        return seq

    def next(self, timeout=5):
        end = time.time() + timeout
        while True:
            for o in self.u:
                return o
            left = end - time.time()
            if left <= 0:
                raise TimeoutError
            self.s.settimeout(left)
            data = self.s.recv(65536)
            if not data:
                raise EOFError
            self.u.feed(data)

    def closed(self, timeout=5):
        """True when the server closes the connection (after any output)."""
        try:
            while True:
                self.next(timeout)
        except EOFError:
            return True
        except (TimeoutError, socket.timeout):
            return False
        except ConnectionResetError:
            return True

    def hello(self, auth=None):
        self.req("handshake", {"Version": 1})
        h = self.next()
        if auth is not None:
            self.req("auth", {"AuthKey": auth})
            h = self.next()
        return h


def self_name():
    k = Conn()
    k.hello()
    k.req("stats")
    k.next()
    return k.next()["agent"]["name"]


def main():
    me = self_name()
    c = Conn()
    c.req("members")
    h = c.next()
    check(h.get("Error") == "Handshake required", "command before handshake refused")
    check(c.closed(), "... and the connection closed")

    c = Conn()
    c.req("handshake", {"Version": 2})
    check(c.next().get("Error") == "Unsupported IPC version", "handshake version 2 refused")
    h = c.hello()
    check(h == {"Error": "", "Seq": 2}, "handshake version 1 accepted, Seq echoed")
    c.req("handshake", {"Version": 1})
    check(c.next().get("Error") == "Handshake already performed", "second handshake refused")
    c.req("members")
    h = c.next()
    body = c.next()
    check(h["Error"] == "" and len(body["Members"]) >= 1, "members after handshake")
    m = body["Members"][0]
    check(sorted(m) == ["Addr", "DelegateCur", "DelegateMax", "DelegateMin", "Name", "Port",
                        "ProtocolCur", "ProtocolMax", "ProtocolMin", "Status", "Tags"],
          "member record keys")
    check(isinstance(m["Addr"], bytes) and len(m["Addr"]) in (4, 16), "Addr is bin")
    c.req("no-such-command")
    check(c.next().get("Error") == "Unsupported command", "unknown command refused")
    check(c.closed(), "... and the connection closed")

    # malformed input: an error, then the connection closes
    for desc, raw in [("a header that is not a map", msgpack.packb(5)),
                      ("reserved byte 0xc1", b"\xc1"),
                      ("header with a non-string Command",
                       msgpack.packb({"Command": 7, "Seq": 1}))]:
        c = Conn()
        c.s.sendall(raw)
        try:
            h = c.next()
            got = h.get("Error", "") != ""
        except (EOFError, ConnectionResetError):
            got = False
        check(got, "error reply for " + desc)
        check(c.closed(), "closed after " + desc)

    c = Conn()
    c.hello()
    c.req("event", {"Name": 5, "Payload": b"x", "Coalesce": True})
    check(c.next().get("Error") == "Malformed request body", "body with wrong types refused")
    check(c.closed(), "... and the connection closed")

    c = Conn()
    c.hello()
    c.s.sendall(b"\x82\xa7Command\xa5event\xa3Seq\x02\xdb\x00\x20\x00\x00")
    try:
        c.s.sendall(b"x" * (1100 * 1024))
    except OSError:
        pass
    try:
        h = c.next()
        check(h.get("Error") == "Request too large", "oversized body refused")
    except (EOFError, ConnectionResetError):
        check(False, "oversized body refused")
    check(c.closed(), "... and the connection closed")

    c = Conn()
    c.hello()
    c.req("members-filtered", {"Tags": {"role": "("}, "Status": "", "Name": ""})
    check(c.closed(), "bad regexp closes the connection without reply (as Serf)")

    # streams
    a, b = Conn(), Conn()
    a.hello()
    b.hello()
    a.req("stream", {"Type": "member-join,bogus"})
    check(a.next().get("Error") == "Invalid event filter", "bad stream filter refused")
    sseq = a.req("stream", {"Type": "user:deploy,query"})
    check(a.next() == {"Error": "", "Seq": sseq}, "stream accepted")
    a.req("stream", {"Type": "*"}, seq=sseq)
    check(a.next().get("Error") == "Stream with given sequence exists", "same Seq refused")
    b.req("event", {"Name": "other", "Payload": b"", "Coalesce": False})
    b.next()
    b.req("event", {"Name": "deploy", "Payload": b"v1", "Coalesce": True})
    check(b.next()["Error"] == "", "event accepted")
    h, rec = a.next(), a.next()
    check(h == {"Error": "", "Seq": sseq} and rec.get("Event") == "user" and
          rec.get("Name") == "deploy" and rec.get("Payload") == b"v1" and
          rec.get("Coalesce") is True and isinstance(rec.get("LTime"), int),
          "user event record (filtered by name) %r" % (rec,))
    qseq = b.req("query", {"FilterNodes": None, "FilterTags": {}, "RequestAck": False,
                           "RelayFactor": 0, "Timeout": 2000000000, "Name": "ask",
                           "Payload": b"q?"})
    check(b.next() == {"Error": "", "Seq": qseq}, "query accepted")
    h, rec = a.next(), a.next()
    check(rec.get("Event") == "query" and rec.get("Name") == "ask" and
          rec.get("Payload") == b"q?" and rec.get("ID") == 1, "query record %r" % (rec,))
    a.req("respond", {"ID": 99, "Payload": b"no"})
    check(a.next().get("Error") == "No pending queries matching ID", "respond to unknown ID")
    a.req("respond", {"ID": rec["ID"], "Payload": b"answer"})
    check(a.next().get("Error") == "", "respond accepted")
    got = []
    while True:
        h, r = b.next(), b.next()
        got.append(r)
        if r.get("Type") == "done":
            break
    check({"From": me, "Payload": b"answer", "Type": "response"} in got,
          "the streaming client's answer reaches the asker")
    check(got[-1] == {"From": "", "Payload": None, "Type": "done"}, "done record last")
    a.req("stop", {"Stop": sseq})
    check(a.next().get("Error") == "", "stop accepted")
    b.req("event", {"Name": "deploy", "Payload": b"v2", "Coalesce": True})
    b.next()
    try:
        a.next(timeout=0.5)
        check(False, "no record after stop")
    except (TimeoutError, socket.timeout):
        check(True, "no record after stop")

    # monitor
    c.__init__()
    c.hello()
    c.req("monitor", {"LogLevel": "bogus"})
    check(c.next().get("Error") == "Unknown log level: BOGUS", "bad log level")
    mseq = c.req("monitor", {"LogLevel": "debug"})
    check(c.next() == {"Error": "", "Seq": mseq}, "monitor accepted")
    h, rec = c.next(), c.next()
    check(h["Seq"] == mseq and "[" in rec.get("Log", ""), "log line replayed")
    c.req("monitor", {"LogLevel": "info"})
    while True:
        h = c.next()
        if h["Seq"] != mseq:
            break
        c.next()
    check(h.get("Error") == "Monitor already exists", "second monitor refused")

    # get-coordinate of an unknown node
    c.req("get-coordinate", {"Node": "nope"})
    while True:
        h = c.next()
        body = c.next()
        if h["Seq"] == c.seq:
            break
    check(body == {"Coord": {"Adjustment": 0.0, "Error": 0.0, "Height": 0.0, "Vec": None},
                   "Ok": False}, "get-coordinate of an unknown node")

    # many clients at once
    errors = []

    def client():
        try:
            k = Conn()
            k.hello()
            for _ in range(5):
                k.req("members")
                h = k.next()
                if h["Error"] or not k.next()["Members"]:
                    errors.append("bad answer")
        except Exception as e:  # noqa
            errors.append(repr(e))

    ts = [threading.Thread(target=client) for _ in range(60)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, "60 clients at once, 5 requests each (%s)" % errors[:3])

    # random garbage on many connections, then the server still answers
    import random
    rnd = random.Random(7)
    for _ in range(200):
        k = Conn()
        k.s.sendall(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200))))
        k.s.close()
    k = Conn()
    k.hello()
    k.req("members")
    check(k.next()["Error"] == "" and k.next()["Members"], "server alive after 200 garbage clients")

    if len(sys.argv) > 3:
        addr, key = sys.argv[2], sys.argv[3]
        k = Conn(addr)
        k.hello()
        s1 = k.req("members")
        s2 = k.req("handshake", {"Version": 1})  # taken as the next header
        h = k.next()
        check(h == {"Error": "Authentication required", "Seq": s1}, "auth required")
        check(k.next().get("Error") == "Handshake already performed",
              "connection stays open, body not read")
        k.req("auth", {"AuthKey": "wrong"})
        check(k.next().get("Error") == "Invalid authentication token", "wrong token refused")
        k.req("auth", {"AuthKey": key})
        check(k.next().get("Error") == "", "right token accepted")
        k.req("members")
        check(k.next()["Error"] == "" and k.next()["Members"], "members after auth")


main()
