"""The load balancers' names in DNS: a responder for the `elb.localhost` zone.

A client on another host reaches a load balancer by its DNSName, as on AWS, when its
resolver asks this responder (say, a stub zone for `elb.localhost` pointing here). The
data plane runs it beside HAProxy and calls `update` whenever its snapshot's names
change; every answer is computed from the latest mapping, so there is nothing to reload.

It is authoritative for the zone only: A for a load balancer's name (TTL 60 s, as
ELB's), an empty answer for its other types (AAAA: the pool is IPv4), NXDOMAIN with
the zone's SOA for an unknown name (the SOA's minimum bounds how long resolvers cache
the miss, so a new load balancer is found within a minute), REFUSED outside the zone.
Garbage gets FORMERR when it has an id to answer to, and silence otherwise: it never
ends the responder.
"""

from __future__ import annotations

import asyncio
import logging
import struct

from dnslib import QTYPE, RCODE, RR, SOA, A, DNSHeader, DNSRecord

log = logging.getLogger(__name__)

ZONE = "elb.localhost"
TTL = 60
UDP_LIMIT = 512   # without EDNS, a UDP answer fits in 512 bytes (RFC 1035)
TCP_IDLE_SECONDS = 10
PORT_ATTEMPTS = 20   # port 0: tries at a port free for both UDP and TCP
OPCODE_QUERY = 0
CLASS_IN, CLASS_ANY = 1, 255


class DnsResponder:
    """`await DnsResponder().start("198.18.64.1", 53)`, then `update({name: address})`."""

    def __init__(self, zone: str = ZONE):
        self.zone = _normal(zone)
        self._names: dict[str, str] = {}
        self._parents: frozenset[str] = frozenset()   # names with names below them
        self._serial = 1
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[asyncio.Task] = set()
        self.address: tuple[str, int] | None = None

    # --- names ----------------------------------------------------------------------

    def update(self, names: dict[str, str]) -> None:
        """Answer from now on with these names (DNS name -> IPv4 address)."""
        normal = {_normal(name): address for name, address in names.items()}
        if normal == self._names:
            return
        parents = {self.zone}
        for name in normal:
            labels = name.split(".")
            parents.update(".".join(labels[i:]) for i in range(1, len(labels)))
        self._names, self._parents = normal, frozenset(parents)
        self._serial += 1

    # --- answering ------------------------------------------------------------------

    def answer(self, packet: bytes) -> bytes | None:
        """The response to one query, or None for a packet not worth one."""
        try:
            query = DNSRecord.parse(packet)
        except Exception:   # dnslib raises what its parsing meets: any of them is garbage
            return _header_only(packet, RCODE.FORMERR)
        if query.header.qr:
            return None   # a response: answering it could start a loop between two servers
        if query.header.opcode != OPCODE_QUERY:
            return _header_only(packet, RCODE.NOTIMP)
        if len(query.questions) != 1:
            return _header_only(packet, RCODE.FORMERR)
        try:
            return self._resolve(query).pack()
        except Exception:
            log.exception("DNS: no answer for %s", query.q.qname)
            return _header_only(packet, RCODE.SERVFAIL)

    def _resolve(self, query: DNSRecord) -> DNSRecord:
        reply = query.reply(ra=0, aa=1)
        question = query.q
        name = _normal(str(question.qname))
        if question.qclass not in (CLASS_IN, CLASS_ANY) or not self._in_zone(name):
            reply.header.aa = 0
            reply.header.rcode = RCODE.REFUSED
            return reply
        address = self._names.get(name)
        if address is not None and question.qtype in (QTYPE.A, QTYPE.ANY):
            reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=TTL))
        elif name == self.zone and question.qtype == QTYPE.SOA:
            reply.add_answer(self._soa())
        else:
            if address is None and name not in self._parents:
                reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(self._soa())   # NXDOMAIN, or a name without this type
        return reply

    def _in_zone(self, name: str) -> bool:
        return name == self.zone or name.endswith("." + self.zone)

    def _soa(self) -> RR:
        times = (self._serial, 3600, 600, 86400, TTL)
        return RR(self.zone + ".", QTYPE.SOA, ttl=TTL,
                  rdata=SOA(f"ns.{self.zone}.", f"hostmaster.{self.zone}.", times))

    # --- serving --------------------------------------------------------------------

    async def start(self, host: str, port: int = 53) -> tuple[str, int]:
        """Answer on host:port over UDP and TCP (port 0: a free port, the same for both).
        Returns the address bound."""
        loop = asyncio.get_running_loop()
        for attempt in range(1 if port else PORT_ATTEMPTS):
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(host, port))
            bound = self._udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, host, bound)
                break
            except OSError:   # the port the system chose for UDP is taken for TCP
                self._udp.close()
                if port or attempt == PORT_ATTEMPTS - 1:
                    raise
        self.address = (host, bound)
        log.info("DNS: answering for %s on %s:%d (UDP and TCP)", self.zone, host, bound)
        return self.address

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._tcp.wait_closed()
        self._udp = self._tcp = None

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        """Length-prefixed queries, answered in turn until the client stops or idles."""
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            while True:
                length = struct.unpack("!H", await asyncio.wait_for(
                    reader.readexactly(2), TCP_IDLE_SECONDS))[0]
                packet = await asyncio.wait_for(reader.readexactly(length), TCP_IDLE_SECONDS)
                response = self.answer(packet)
                if response is None:
                    break
                writer.write(struct.pack("!H", len(response)) + response)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass   # the client closed, idled or went away: nothing to answer
        finally:
            self._connections.discard(task)
            writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, responder: DnsResponder):
        self.responder = responder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        response = self.responder.answer(data)
        if response is None:
            return
        if len(response) > UDP_LIMIT:   # the client asks again over TCP
            response = DNSRecord.parse(response).truncate().pack()
        self.transport.sendto(response, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("DNS: %s", exc)   # an ICMP error for an earlier answer: nothing to do


def listen_address(text: str, default_port: int = 53) -> tuple[str, int]:
    """`nozama lb --dns`'s ADDRESS[:PORT] ("198.18.64.1", "198.18.64.1:5353", "[::1]:53")."""
    host, port = text, str(default_port)
    if text.startswith("["):   # IPv6, its port after the bracket
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r} is not ADDRESS[:PORT]")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not ADDRESS[:PORT] (a port from 1 to 65535)")
    return host, int(port)


def _normal(name: str) -> str:
    """Names compare without case and without the root's trailing dot."""
    return name.rstrip(".").lower()


def _header_only(packet: bytes, rcode: int) -> bytes | None:
    """An answer that echoes the query's id and nothing else, when it has an id."""
    if len(packet) < 2:
        return None   # no id to answer to
    query_id, flags = struct.unpack("!HH", packet[:4].ljust(4, b"\0"))
    if flags & 0x8000:
        return None   # a response, however garbled
    opcode = (flags >> 11) & 0xF
    return DNSRecord(DNSHeader(id=query_id, qr=1, opcode=opcode, rcode=rcode)).pack()
