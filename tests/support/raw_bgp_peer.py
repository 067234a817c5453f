#!/usr/bin/env python3
"""A raw BGP peer for holdfast's interop tests: BGP-4 written byte by byte (socket and struct
only), so it can send what BIRD and GoBGP never would. It listens; holdfast's speaker connects.

  raw_bgp_peer.py --scenario NAME --gate-dir DIR [--address 127.0.0.1] [--port 0]
                  [--asn 65001] [--peer-asn 64512] [--timeout 30]

Prints "listening HOST PORT" on stdout once it accepts connections, then one line per event:
  established            OPEN and KEEPALIVE exchanged (4-octet ASNs, IPv4 and IPv6 unicast,
                         graceful restart with a 120 s restart time)
  sent NAME              an UPDATE went out (names below)
  waiting GATE           blocked until the file DIR/GATE exists (the test creates it once it
                         has checked what it wants); KEEPALIVEs go on meanwhile
  notification CODE SUBCODE HEX
                         a NOTIFICATION from the speaker
  closed                 the speaker closed the connection
  done                   the scenario ran to its end (exit 0)
  error TEXT             something else happened (exit 1): a timeout, an unexpected message

Every wait is bounded by --timeout seconds; the listener accepts one connection only.

Scenarios (both first announce 10.99.0.0/16 via 192.0.2.99 and 2001:db8:99::/48 via
2001:db8::99 with AS_PATH [ASN], "sent announce", then wait for the gate "go"):
  mp-unreach-overrun  sends ("sent mp-unreach-overrun") an UPDATE whose only attribute is an
                      MP_UNREACH_NLRI withdrawing 2001:db8:99::/48 with a length 5 octets
                      past the Total Path Attribute Length, then waits for the speaker's
                      NOTIFICATION and the close (RFC 7606 section 3(j): session reset).
  as-path-zero        sends ("sent as-path-zero") an UPDATE announcing 10.99.0.0/16,
                      10.98.0.0/16 and 2001:db8:99::/48 with AS_PATH [ASN 0] (RFC 7607:
                      treat-as-withdraw), keeps the session up until the gate "end", then
                      closes without NOTIFICATION.
"""
import argparse
import os
import select
import socket
import struct
import sys
import time

MARKER = b"\xff" * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE = 1, 2, 3, 4
AS_TRANS = 23456


def say(line):
    print(line, flush=True)


class Failure(Exception):
    pass


def message(msg_type, body=b""):
    return MARKER + struct.pack("!HB", 19 + len(body), msg_type) + body


def capability(code, value):
    return struct.pack("!BB", code, len(value)) + value


def open_message(asn, bgp_id, hold_time):
    caps = (
        capability(1, struct.pack("!HBB", 1, 0, 1))  # multiprotocol IPv4 unicast (RFC 4760)
        + capability(1, struct.pack("!HBB", 2, 0, 1))  # multiprotocol IPv6 unicast
        + capability(65, struct.pack("!I", asn))  # 4-octet ASN (RFC 6793)
        # graceful restart (RFC 4724): 120 s, both families with forwarding preserved, so a
        # connection lost without NOTIFICATION would leave our routes stale, not gone
        + capability(64, struct.pack("!HHBBHBB", 120, 1, 1, 0x80, 2, 1, 0x80))
    )
    params = struct.pack("!BB", 2, len(caps)) + caps
    my_as = asn if asn <= 0xFFFF else AS_TRANS
    body = struct.pack("!BHH4sB", 4, my_as, hold_time, socket.inet_aton(bgp_id), len(params))
    return message(OPEN, body + params)


def attribute(flags, attr_type, value, declared=None):
    """One path attribute; `declared` overrides the length field (for a broken one)."""
    length = len(value) if declared is None else declared
    if length > 255:
        return struct.pack("!BBH", flags | 0x10, attr_type, length) + value
    return struct.pack("!BBB", flags, attr_type, length) + value


def nlri(prefix):
    address, length = prefix.split("/")
    length = int(length)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    raw = socket.inet_pton(family, address)
    return bytes([length]) + raw[: (length + 7) // 8]


def as_path(asns):
    return attribute(0x40, 2, struct.pack("!BB", 2, len(asns)) + b"".join(
        struct.pack("!I", a) for a in asns))


def update(attrs, v4_nlri=b"", withdrawn=b""):
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs
    return message(UPDATE, body + v4_nlri)


def announce(asns, v4_prefixes, v6_prefixes):
    mp_reach = (
        struct.pack("!HBB", 2, 1, 16)
        + socket.inet_pton(socket.AF_INET6, "2001:db8::99")
        + b"\x00"
        + b"".join(nlri(p) for p in v6_prefixes)
    )
    attrs = (
        attribute(0x80, 14, mp_reach)  # MP_REACH_NLRI first (RFC 7606 section 5.1)
        + attribute(0x40, 1, b"\x00")  # ORIGIN IGP
        + as_path(asns)
        + attribute(0x40, 3, socket.inet_aton("192.0.2.99"))  # NEXT_HOP
    )
    return update(attrs, b"".join(nlri(p) for p in v4_prefixes))


class Connection:
    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""
        self.next_keepalive = 0.0

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, until):
        """Reads what arrives before `until`; False when the peer closed."""
        wait = max(0.0, min(until, self.deadline) - time.monotonic())
        ready, _, _ = select.select([self.sock], [], [], wait)
        if not ready:
            return True
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return False
        if not data:
            return False
        self.buffer += data
        return True

    def next_message(self, until):
        """(type, body) of the next message before `until`, None at `until`, or raises
        Failure("closed") when the connection ends."""
        while True:
            if len(self.buffer) >= 19:
                if self.buffer[:16] != MARKER:
                    raise Failure("marker is not all ones")
                length, msg_type = struct.unpack("!HB", self.buffer[16:19])
                if length < 19 or length > 4096:
                    raise Failure("message length %d" % length)
                if len(self.buffer) >= length:
                    body = self.buffer[19:length]
                    self.buffer = self.buffer[length:]
                    return msg_type, body
            now = time.monotonic()
            if now >= min(until, self.deadline):
                if now >= self.deadline:
                    raise Failure("timeout")
                return None
            if not self._fill(until):
                raise Failure("closed")

    def keepalive_due(self):
        """Sends a KEEPALIVE when a second has passed since the last (hold time 3 s)."""
        now = time.monotonic()
        if now >= self.next_keepalive:
            self.send(message(KEEPALIVE))
            self.next_keepalive = now + 1.0

    def pump(self, until):
        """Keeps the session up (a KEEPALIVE each second) until `until`, reading what the
        speaker sends; a NOTIFICATION is reported and raises Failure."""
        while True:
            self.keepalive_due()
            m = self.next_message(min(until, self.next_keepalive))
            if m is None:
                if time.monotonic() >= until:
                    return
                continue
            msg_type, body = m
            if msg_type == NOTIFICATION:
                report_notification(body)
                raise Failure("notification")


def report_notification(body):
    code, subcode = body[0], body[1]
    say("notification %d %d %s" % (code, subcode, body[2:].hex() or "-"))


def handshake(conn, args):
    conn.send(open_message(args.asn, "10.255.0.9", 90))
    got_open = got_keepalive = False
    while not (got_open and got_keepalive):
        msg_type, body = conn.next_message(conn.deadline)
        if msg_type == OPEN:
            version, peer_as = struct.unpack("!BH", body[:3])
            if version != 4:
                raise Failure("OPEN version %d" % version)
            if peer_as not in (args.peer_asn, AS_TRANS):
                raise Failure("OPEN from AS %d" % peer_as)
            got_open = True
            conn.send(message(KEEPALIVE))
            conn.next_keepalive = time.monotonic() + 1.0
        elif msg_type == KEEPALIVE:
            got_keepalive = got_open
        elif msg_type == NOTIFICATION:
            report_notification(body)
            raise Failure("notification during the handshake")
    say("established")


def wait_gate(conn, gate_dir, gate):
    say("waiting " + gate)
    path = os.path.join(gate_dir, gate)
    while not os.path.exists(path):
        conn.pump(time.monotonic() + 0.05)


def scenario_mp_unreach_overrun(conn, args):
    wait_gate(conn, args.gate_dir, "go")
    value = struct.pack("!HB", 2, 1) + nlri("2001:db8:99::/48")
    # The attribute says 5 octets more than it has, and the Total Path Attribute Length
    # ends where its value really ends: the attribute overruns the field (RFC 7606 section 4).
    conn.send(update(attribute(0x80, 15, value, declared=len(value) + 5)))
    say("sent mp-unreach-overrun")
    # Expected: a NOTIFICATION, then the close.
    try:
        while True:
            m = conn.next_message(conn.deadline)
            if m[0] == NOTIFICATION:
                report_notification(m[1])
    except Failure as e:
        if str(e) != "closed":
            raise
    say("closed")


def scenario_as_path_zero(conn, args):
    wait_gate(conn, args.gate_dir, "go")
    conn.send(
        announce([args.asn, 0], ["10.99.0.0/16", "10.98.0.0/16"], ["2001:db8:99::/48"]))
    say("sent as-path-zero")
    wait_gate(conn, args.gate_dir, "end")


SCENARIOS = {
    "mp-unreach-overrun": scenario_mp_unreach_overrun,
    "as-path-zero": scenario_as_path_zero,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    parser.add_argument("--gate-dir", required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--asn", type=int, default=65001)
    parser.add_argument("--peer-asn", type=int, default=64512)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.address, args.port))
    listener.listen(1)
    host, port = listener.getsockname()
    say("listening %s %d" % (host, port))
    try:
        ready, _, _ = select.select([listener], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise Failure("timeout waiting for the speaker to connect")
        sock, _ = listener.accept()
        # One connection only: the speaker's reconnects after a reset are refused.
        listener.close()
        with sock:
            conn = Connection(sock, deadline)
            handshake(conn, args)
            conn.send(announce([args.asn], ["10.99.0.0/16"], ["2001:db8:99::/48"]))
            say("sent announce")
            SCENARIOS[args.scenario](conn, args)
    except Failure as e:
        say("error " + str(e))
        return 1
    except OSError as e:
        say("error " + str(e))
        return 1
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
