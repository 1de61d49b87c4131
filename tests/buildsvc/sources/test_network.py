from __future__ import annotations

import ipaddress
import socket

import pytest

from buildsvc.sources.network import AddressPolicy, ForbiddenAddress, resolve_checked


@pytest.mark.parametrize(
    ("address", "address_class"),
    [
        ("127.0.0.1", "a loopback"),
        ("::1", "a loopback"),
        ("10.1.2.3", "a private"),
        ("172.16.0.1", "a private"),
        ("192.168.1.1", "a private"),
        ("fd12:3456::1", "a private"),
        ("169.254.10.10", "a link-local"),
        ("fe80::1", "a link-local"),
        ("224.0.0.1", "a multicast"),
        ("ff02::1", "a multicast"),
        ("0.0.0.0", "an unspecified"),  # noqa: S104 - an address to classify, not to bind
        ("::", "an unspecified"),
        ("240.0.0.1", "a reserved"),
        ("100.64.0.1", "a non-public"),
        ("169.254.169.254", "a cloud metadata"),
        ("fd00:ec2::254", "a cloud metadata"),
        ("100.100.100.200", "a cloud metadata"),
        ("::ffff:127.0.0.1", "a loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "a cloud metadata"),
        ("2002:a00:1::1", "a private"),  # 6to4 carrying 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str, address_class: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) == address_class


@pytest.mark.parametrize("address", ["8.8.8.8", "140.82.112.3", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is None


def test_allowed_networks_open_private_addresses() -> None:
    policy = AddressPolicy.from_cidrs(["127.0.0.0/8", "10.0.0.0/8", "fd00::/8"])
    for address in ("127.0.0.1", "10.9.9.9", "fd12::1", "::ffff:127.0.0.1"):
        assert policy.refusal(ipaddress.ip_address(address)) is None
    assert policy.refusal(ipaddress.ip_address("192.168.0.1")) == "a private"


def test_metadata_needs_the_exact_address_to_be_allowed() -> None:
    metadata = ipaddress.ip_address("169.254.169.254")
    broad = AddressPolicy.from_cidrs(["169.254.0.0/16", "0.0.0.0/0"])
    assert broad.refusal(metadata) == "a cloud metadata"
    assert broad.refusal(ipaddress.ip_address("169.254.1.1")) is None
    assert AddressPolicy.from_cidrs(["169.254.169.254/32"]).refusal(metadata) is None


def test_resolve_checked_refuses_loopback_names() -> None:
    with pytest.raises(ForbiddenAddress) as info:
        resolve_checked("localhost", 80, AddressPolicy())
    assert info.value.address_class == "a loopback"
    assert "localhost resolves to" in str(info.value)
    assert "BUILDSVC_ALLOWED_SOURCE_NETWORKS" in str(info.value)


def test_resolve_checked_returns_checked_addresses() -> None:
    policy = AddressPolicy.from_cidrs(["127.0.0.0/8"])
    assert resolve_checked("127.0.0.1", 80, policy) == [(socket.AF_INET, "127.0.0.1")]


def test_resolve_checked_raises_gaierror_for_unknown_names() -> None:
    with pytest.raises(socket.gaierror):
        resolve_checked("no-such-host.invalid", 80, AddressPolicy())
