"""nozama/lb/dns.py: the load balancers' names answered over UDP and TCP, and garbage."""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from nozama.lb.dns import DnsResponder, listen_address

NAME = "web-1234567890.us-west-2.elb.localhost"
OTHER = "internal-api-9876543210.eu-west-1.elb.localhost"


@pytest.fixture
def responder():
    """A responder on 127.0.0.1 (a free port), run by a loop on a thread of its own: the
    tests query it with dnslib's blocking `send`, as a client would."""
    loop = asyncio.new_event_loop()
    dns = DnsResponder()
    dns.update({NAME: "198.18.64.1", OTHER: "198.18.64.2"})
    loop.run_until_complete(dns.start("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield dns
    asyncio.run_coroutine_threadsafe(dns.close(), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.close()


def ask(dns: DnsResponder, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord:
    host, port = dns.address
    raw = DNSRecord.question(name, qtype).send(host, port, tcp=tcp, timeout=2)
    return DNSRecord.parse(raw)


def addresses(reply: DNSRecord) -> list[str]:
    return [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_a_load_balancers_name_resolves_to_its_address(responder, tcp):
    reply = ask(responder, NAME, tcp=tcp)
    assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1
    assert addresses(reply) == ["198.18.64.1"]
    assert reply.rr[0].ttl == 60
    assert addresses(ask(responder, OTHER, tcp=tcp)) == ["198.18.64.2"]


def test_names_match_without_case_and_with_or_without_the_trailing_dot(responder):
    assert addresses(ask(responder, NAME.upper())) == ["198.18.64.1"]
    assert addresses(ask(responder, NAME + ".")) == ["198.18.64.1"]
    assert str(ask(responder, NAME.upper()).rr[0].rname) == NAME.upper() + "."


def test_aaaa_of_a_known_name_is_an_empty_answer(responder):
    reply = ask(responder, NAME, "AAAA")
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.rr == [] and [rr.rtype for rr in reply.auth] == [QTYPE.SOA]


def test_an_unknown_name_in_the_zone_is_nxdomain_with_the_soa(responder):
    reply = ask(responder, "gone-1111111111.us-west-2.elb.localhost")
    assert reply.header.rcode == RCODE.NXDOMAIN and reply.header.aa == 1
    assert reply.rr == []
    soa = reply.auth[0]
    assert soa.rtype == QTYPE.SOA and str(soa.rname) == "elb.localhost."
    assert soa.rdata.times[-1] == 60   # how long resolvers may remember the miss


def test_a_name_with_names_below_it_exists(responder):
    """RFC 8020: NXDOMAIN would say nothing exists below `us-west-2.elb.localhost`."""
    assert ask(responder, "us-west-2.elb.localhost").header.rcode == RCODE.NOERROR
    soa = ask(responder, "elb.localhost", "SOA")
    assert [rr.rtype for rr in soa.rr] == [QTYPE.SOA]


def test_names_outside_the_zone_are_refused(responder):
    for name in ("example.com", "localhost", "xelb.localhost"):
        reply = ask(responder, name)
        assert reply.header.rcode == RCODE.REFUSED and reply.rr == []


def test_an_update_replaces_the_names(responder):
    responder.update({OTHER: "198.18.64.9"})
    assert ask(responder, NAME).header.rcode == RCODE.NXDOMAIN
    assert addresses(ask(responder, OTHER, tcp=True)) == ["198.18.64.9"]
    assert ask(responder, "elb.localhost", "SOA").rr[0].rdata.times[0] > 1   # a new serial


def test_answers_fit_in_512_bytes(responder):
    assert len(ask(responder, NAME).pack()) <= 512


def test_garbage_gets_formerr_or_silence(responder):
    rng = random.Random(17)
    query = DNSRecord.question(NAME).pack()
    packets = [b"", b"\x00", b"\x12\x34" + b"\x00" * 10 + b"\xff" * 5]
    packets += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))
                for _ in range(3000)]
    # Queries damaged at a byte or two: the likeliest garbage is almost right.
    for _ in range(3000):
        damaged = bytearray(query)
        for at in rng.sample(range(len(query)), rng.randrange(1, 3)):
            damaged[at] = rng.randrange(256)
        packets.append(bytes(damaged))
    for packet in packets:
        response = responder.answer(packet)
        if response is not None:   # silence: a response, or no id to answer to
            reply = DNSRecord.parse(response)
            assert reply.header.qr == 1 and reply.header.id == packet[0] << 8 | packet[1]
            assert len(response) <= 512


def test_the_responder_keeps_answering_after_garbage(responder):
    host, port = responder.address
    reply = DNSRecord.parse(_exchange_udp(host, port, b"\xab\xcd" + b"\x00" * 10 + b"\x07"))
    assert reply.header.id == 0xABCD and reply.header.rcode == RCODE.FORMERR
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for size in (0, 1, 7, 300, 4000):
            sock.sendto(random.randbytes(size), (host, port))
    assert addresses(ask(responder, NAME)) == ["198.18.64.1"]


def test_garbage_over_tcp_closes_nothing_but_that_connection(responder):
    host, port = responder.address
    with socket.create_connection((host, port), timeout=2) as sock:
        sock.sendall(struct.pack("!H", 5) + b"\xde\xad\x01\x00\x00")   # a header cut short
        length = struct.unpack("!H", sock.recv(2))[0]
        assert DNSRecord.parse(sock.recv(length)).header.rcode == RCODE.FORMERR
        sock.sendall(struct.pack("!H", 300) + b"short")   # then the client goes away
    assert addresses(ask(responder, NAME, tcp=True)) == ["198.18.64.1"]


def test_responses_and_other_opcodes_are_not_answered_as_queries(responder):
    host, port = responder.address
    response = DNSRecord.question(NAME).reply().pack()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        sock.sendto(response, (host, port))
        with pytest.raises(socket.timeout):
            sock.recv(512)
    notify = DNSRecord.question(NAME)
    notify.header.opcode = 4
    assert DNSRecord.parse(notify.send(host, port, timeout=2)).header.rcode == RCODE.NOTIMP


def _exchange_udp(host: str, port: int, packet: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(packet, (host, port))
        return sock.recv(4096)


def test_the_listen_address_is_address_and_optional_port():
    assert listen_address("198.18.64.1") == ("198.18.64.1", 53)
    assert listen_address("198.18.64.1:5353") == ("198.18.64.1", 5353)
    assert listen_address("[::1]:5353") == ("::1", 5353)
    assert listen_address("::1") == ("::1", 53)
    for bad in ("198.18.64.1:", "198.18.64.1:dns", ":53", "198.18.64.1:70000", "[::1]x"):
        with pytest.raises(ValueError, match="ADDRESS"):
            listen_address(bad)
