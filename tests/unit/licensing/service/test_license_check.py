"""License checks: a use is licensed on the licensee organisation's domain and subdomains."""

from __future__ import annotations

import pytest

from licensing.errors import InvalidDomainError
from licensing.service.grants import activate_grant
from licensing.service.license_check import is_use_licensed, licensed_grants
from licensing.service.offers import publish_offer
from registry.models import persisted_id
from tests.unit.licensing.factories import usd
from tests.unit.licensing.service.support import World, add_work, join_organisation, retail_grant


@pytest.mark.parametrize(
    "use",
    ["brand.example", "https://shop.brand.example/p/1?x=y", "BRAND.EXAMPLE.", "brand.example:8443"],
)
def test_a_use_on_the_licensee_domain_or_a_subdomain_is_licensed(world: World, use: str) -> None:
    join_organisation(world, world.brand, "brand.example")
    retail_grant(world)
    assert is_use_licensed(world.session, persisted_id(world.work), use)


@pytest.mark.parametrize(
    "use", ["evilbrand.example", "brand.example.evil.test", "https://evil.test/brand.example", ""]
)
def test_a_use_elsewhere_is_not_licensed(world: World, use: str) -> None:
    join_organisation(world, world.brand, "brand.example")
    retail_grant(world)
    assert not is_use_licensed(world.session, persisted_id(world.work), use)


@pytest.mark.parametrize("use", ["brand.example", "https://shop.brand.example/p/1"])
def test_an_unverified_organisation_domain_licenses_nothing(world: World, use: str) -> None:
    # Only a proven domain names a licensee: a claim alone would let a brand cover any site.
    join_organisation(world, world.brand, "brand.example", verified=False)
    retail_grant(world)
    assert licensed_grants(world.session, persisted_id(world.work), use) == []
    assert not is_use_licensed(world.session, persisted_id(world.work), use)


def test_a_use_of_another_work_is_not_licensed(world: World) -> None:
    join_organisation(world, world.brand, "brand.example")
    retail_grant(world)
    other = add_work(world.session, world.ana, "carp")
    assert not is_use_licensed(world.session, persisted_id(other), "brand.example")


@pytest.mark.parametrize("stored", ["bücher.example", "xn--bcher-kva.example"])
@pytest.mark.parametrize(
    "use",
    ["bücher.example", "XN--BCHER-KVA.example.", "https://shop.BÜCHER.example:8443/koi"],
)
def test_a_unicode_domain_is_licensed_under_either_spelling(
    world: World, stored: str, use: str
) -> None:
    join_organisation(world, world.brand, stored)
    retail_grant(world)
    assert is_use_licensed(world.session, persisted_id(world.work), use)


@pytest.mark.parametrize("use", ["", "   ", "a..example", "bad\x00.example", "\ue000.example"])
def test_text_naming_no_domain_is_refused_by_the_check_and_unlicensed_for_the_crawler(
    world: World, use: str
) -> None:
    join_organisation(world, world.brand, "brand.example")
    retail_grant(world)
    with pytest.raises(InvalidDomainError, match="names no domain") as refused:
        licensed_grants(world.session, persisted_id(world.work), use)
    assert refused.value.status_code == 422
    assert not is_use_licensed(world.session, persisted_id(world.work), use)


def test_an_unpaid_wholesale_grant_licenses_nothing(world: World) -> None:
    join_organisation(world, world.brand, "brand.example")
    packages = {"packages": [{"id": "bundle", "units": 100, "fee": usd(10_000)}]}
    world.activate(world.document(wholesale=packages))
    offer = publish_offer(world.session, world.ana, persisted_id(world.work), "wholesale", "bundle")
    grant = world.take(offer)
    assert not is_use_licensed(world.session, persisted_id(world.work), "brand.example")
    activate_grant(world.session, persisted_id(grant))
    assert is_use_licensed(world.session, persisted_id(world.work), "brand.example")
