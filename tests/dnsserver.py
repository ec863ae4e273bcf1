"""A tiny authoritative DNS server for the tests (UDP, A and AAAA only), and a way to point a process at it.

``answers`` maps a name to what each query of one type gets, in turn: a list of address lists, the
last one repeated (``{"rebind.test": {"A": [["127.0.0.2"], ["127.0.0.1"]]}}`` answers the first A query
with 127.0.0.2 and every later one with 127.0.0.1; ``cycle=True`` starts over instead). Every answer
has TTL 0, as a rebinding attacker's would. Unknown names get NXDOMAIN; a known name without records
of the asked type gets an empty answer.

glibc's resolver only speaks to port 53 at the addresses ``/etc/resolv.conf`` names, so
:func:`resolving_with` wraps a command in a private mount namespace (``unshare``, root only) whose
``/etc/resolv.conf`` names this server: that process, and nothing else on the machine, asks it.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

TYPES = {1: "A", 28: "AAAA"}


@dataclass
class DnsServer:
    answers: dict[str, dict[str, list[list[str]]]]
    cycle: bool = False
    host: str = field(default_factory=lambda: f"127.53.{random.randint(1, 254)}.{random.randint(1, 254)}")
    queries: list[tuple[str, str]] = field(default_factory=list)  # (name, type) in the order asked
    _sock: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> DnsServer:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.host, 53))
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()

    def asked(self, name: str, qtype: str = "A") -> int:
        with self._lock:
            return sum(1 for q in self.queries if q == (name, qtype))

    def _serve(self) -> None:
        assert self._sock is not None
        while True:
            try:
                packet, peer = self._sock.recvfrom(4096)
            except OSError:
                return
            try:
                self._sock.sendto(self._answer(packet), peer)
            except (OSError, ValueError, IndexError, struct.error):
                continue

    def _answer(self, packet: bytes) -> bytes:
        msg_id, _flags, qdcount = struct.unpack("!HHH", packet[:6])
        labels, at = [], 12
        while packet[at]:
            labels.append(packet[at + 1 : at + 1 + packet[at]].decode("ascii").lower())
            at += 1 + packet[at]
        question_end = at + 5
        qtype = TYPES.get(struct.unpack("!H", packet[at + 1 : at + 3])[0], "other")
        name = ".".join(labels)
        with self._lock:
            asked = sum(1 for q in self.queries if q == (name, qtype))
            self.queries.append((name, qtype))
        records = self.answers.get(name)
        addresses: list[str] = []
        if records is not None and records.get(qtype):
            turns = records[qtype]
            addresses = turns[asked % len(turns)] if self.cycle else turns[min(asked, len(turns) - 1)]
        rcode = 3 if records is None else 0
        header = struct.pack("!HHHHHH", msg_id, 0x8180 | rcode, 1 if qdcount else 0, len(addresses), 0, 0)
        body = packet[12:question_end]
        for address in addresses:
            data = ipaddress.ip_address(address).packed
            body += struct.pack("!HHHIH", 0xC00C, 28 if len(data) == 16 else 1, 1, 0, len(data)) + data
        return header + body


def resolving_with(server: DnsServer, folder: Path) -> list[str]:
    """A command prefix: run the rest in a mount namespace whose /etc/resolv.conf names only ``server``."""
    conf = folder / "resolv.conf"
    conf.write_text(f"nameserver {server.host}\noptions attempts:1 timeout:2\n")
    script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(conf)]
