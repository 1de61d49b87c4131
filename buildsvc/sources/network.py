"""Which addresses the service may contact on a user's behalf.

Users type forge URLs, and the service fetches them: without a check anyone could make
it probe the internal network or a cloud metadata endpoint. ``AddressPolicy`` refuses
loopback, private, link-local, multicast, reserved, unspecified, shared (CGNAT) and
other non-global addresses unless an administrator lists their network in
``BUILDSVC_ALLOWED_SOURCE_NETWORKS``. Cloud metadata endpoints stay refused even inside a
broad allowed network (``0.0.0.0/0``, ``169.254.0.0/16``): only a network listing exactly
that address (``/32`` or ``/128``) opens one.

``resolve_checked`` resolves a host and checks every address it resolves to. The
transport (``transport.py``) calls it when it opens each connection and connects to
the checked address itself, so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot reach a refused address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IPv6 metadata
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server
        "192.0.0.192",  # Oracle Cloud (classic)
    )
)

# (class name, test) in the order that names an address best: 127.0.0.1 is private too,
# but "loopback" is what a user needs to read.
_CLASSES: tuple[tuple[str, str], ...] = (
    ("an unspecified", "is_unspecified"),
    ("a loopback", "is_loopback"),
    ("a link-local", "is_link_local"),
    ("a multicast", "is_multicast"),
    ("a reserved", "is_reserved"),
    ("a private", "is_private"),
)


class ForbiddenAddress(Exception):
    """A host resolved to an address the policy refuses (mapped to a 400 by failures.py)."""

    def __init__(self, host: str, address: str, address_class: str) -> None:
        self.host = host
        self.address = address
        self.address_class = address_class
        super().__init__(
            f"{host} resolves to {address}, {address_class} address, which this service may "
            "not contact; an administrator can allow its network with "
            "BUILDSVC_ALLOWED_SOURCE_NETWORKS"
        )


def address_class(address: IPAddress) -> str | None:
    """The refused class of ``address`` ("a loopback" ...), or None for a public address."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata"
    for name, attribute in _CLASSES:
        if getattr(address, attribute):
            return name
    if not address.is_global:
        return "a non-public"
    return None


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The address and any IPv4 address an IPv6 one carries (mapped, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return [address.ipv4_mapped]  # ::ffff:a.b.c.d reaches exactly a.b.c.d
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.append(address.teredo[1])
    return found


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> AddressPolicy:
        return cls(tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs))

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused (its class), or None when it may be contacted."""
        for candidate in _embedded(address):
            refused = address_class(candidate)
            if refused is not None and not self._allows(candidate):
                return refused
        return None

    def _allows(self, address: IPAddress) -> bool:
        exact = address in METADATA_ADDRESSES
        for network in self.allowed_networks:
            if address.version != network.version or address not in network:
                continue
            if not exact or network.num_addresses == 1:
                return True
        return False

    def check(self, host: str, address: str) -> None:
        refused = self.refusal(ipaddress.ip_address(address.split("%", 1)[0]))
        if refused is not None:
            raise ForbiddenAddress(host, address, refused)


def resolve_checked(
    host: str, port: int, policy: AddressPolicy
) -> list[tuple[socket.AddressFamily, str]]:
    """Resolve ``host`` (blocking) and check every address; raise if any is refused.

    Refusing when any one is refused (not just skipping it) keeps a name that mixes a
    public and a private address from being used to reach the private one.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[tuple[socket.AddressFamily, str]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        policy.check(host, address)
        if (family, address) not in addresses:
            addresses.append((family, address))
    return addresses
