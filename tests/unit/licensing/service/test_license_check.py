"""License checks: a use is licensed on the licensee organisation's domain and subdomains."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.service.license_check import host_of, is_use_licensed
from tests.unit.licensing.service.support import World, add_work, join_organisation, retail_grant


@pytest.mark.parametrize(
    "use",
    ["brand.example", "https://shop.brand.example/p/1?x=y", "BRAND.EXAMPLE.", "brand.example:8443"],
)
def test_a_use_on_the_licensee_domain_or_a_subdomain_is_licensed(world: World, use: str) -> None:
    join_organisation(world, world.brand, "brand.example")
    retail_grant(world)
    assert is_use_licensed(world.session, world.work.id or 0, use)


@pytest.mark.parametrize(
    "use", ["evilbrand.example", "brand.example.evil.test", "https://evil.test/brand.example", ""]
)
def test_a_use_elsewhere_is_not_licensed(world: World, use: str) -> None:
    join_organisation(world, world.brand, "brand.example")
    retail_grant(world)
    assert not is_use_licensed(world.session, world.work.id or 0, use)


def test_a_use_of_another_work_is_not_licensed(world: World) -> None:
    join_organisation(world, world.brand, "brand.example")
    retail_grant(world)
    other = add_work(world.session, world.ana, "carp")
    assert not is_use_licensed(world.session, other.id or 0, "brand.example")


@given(st.text(max_size=300))
def test_any_text_is_answered_with_a_host_or_nothing(text: str) -> None:
    host = host_of(text)
    assert host == host.lower()
    assert not host.endswith(".")
