#!/usr/bin/env python3
"""A tiny authoritative DNS server on UDP loopback for tests of DNS-discovered clusters.

  dns_server.py --answers FILE [--address 127.0.0.1] [--port 0] [--ttl 1]

Prints "listening HOST PORT" once it serves. For every A query it reads FILE: one IPv4 address
per line answers with those addresses, "servfail" answers SERVFAIL, "drop" does not answer.
AAAA queries get an empty answer (NOERROR, no records).
"""
import argparse
import socket
import struct
import sys


def parse_question(packet):
    i = 12
    labels = []
    while packet[i] != 0:
        n = packet[i]
        labels.append(packet[i + 1:i + 1 + n])
        i += 1 + n
    qtype, qclass = struct.unpack("!HH", packet[i + 1:i + 5])
    return packet[12:i + 5], qtype


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttl", type=int, default=1)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.address, args.port))
    print(f"listening {sock.getsockname()[0]} {sock.getsockname()[1]}", flush=True)
    while True:
        packet, peer = sock.recvfrom(512)
        if len(packet) < 17:
            continue
        qid = packet[:2]
        question, qtype = parse_question(packet)
        with open(args.answers) as f:
            lines = [l.strip() for l in f if l.strip()]
        if lines == ["drop"]:
            continue
        flags = 0x8400  # response, authoritative
        answers = b""
        count = 0
        if lines == ["servfail"]:
            flags |= 2
        elif qtype == 1:
            for line in lines:
                answers += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, args.ttl, 4) + socket.inet_aton(line)
                count += 1
        header = qid + struct.pack("!HHHHH", flags, 1, count, 0, 0)
        sock.sendto(header + question + answers, peer)


if __name__ == "__main__":
    sys.exit(main())
