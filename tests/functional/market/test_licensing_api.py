"""The licensing API end to end: contracts, consent, offers, grants, reports, license checks."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlmodel import col, func, select

from licensing.events import ConsentEvent, GrantEvent, ReportSplitEvent
from licensing.models import (
    LicenseGrant,
)
from licensing.money import MAX_AMOUNT_MINOR
from registry.certificates import verify_certificate
from registry.log.events import parse_event
from registry.log.signing import LogPublicKey
from registry.log.store import AttestationLog
from registry.models import Work
from registry.schemas import CertificatePublic
from similarity.engine import Fingerprint
from tests.factories import Account, make_account, random_png
from tests.support.market import (
    API,
    Market,
    brand_account,
    contract,
    copymark,
    one_line,
    usd,
)


def test_a_contract_version_is_proposed_as_yaml(market: Market) -> None:
    work_id = market.work()
    proposed = market.client.post(
        f"{API}/works/{work_id}/contract-versions",
        content=yaml.safe_dump(contract(work_id)),
        headers={**market.alice.headers, "content-type": "application/yaml"},
    )
    assert (proposed.status_code, proposed.json()["status"]) == (201, "draft")


def test_a_version_activates_once_every_party_consented(market: Market) -> None:
    version = market.activate(market.work())
    assert (version["status"], version["consented_parties"]) == ("active", ["alice", "bob"])


def test_consents_are_leaves_naming_the_document_digest(market: Market) -> None:
    version = market.activate(market.work())
    with market.services.session() as session:
        log = AttestationLog(session)
        events = [parse_event(log.leaf(index).leaf) for index in range(log.tree_size())]
    digests = [e.document_sha256 for e in events if isinstance(e, ConsentEvent)]
    assert digests == [version["document_sha256"]] * 2


def test_a_contract_for_another_work_than_the_path_is_refused(market: Market) -> None:
    first, second = market.work(), market.work()
    proposed = market.client.post(
        f"{API}/works/{first}/contract-versions",
        json=contract(second),
        headers=market.alice.headers,
    )
    assert proposed.status_code == 422
    assert f"work-{second}" in proposed.json()["detail"]


def test_open_offers_are_listed_publicly(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    offer_id = market.offer(work_id, "retail")
    listed = market.client.get(f"{API}/works/{work_id}/offers")
    assert [offer["id"] for offer in listed.json()] == [offer_id]


def test_offers_on_a_private_work_are_not_listed_to_others(market: Market) -> None:
    work_id = market.work(visibility="private")
    assert market.client.get(f"{API}/works/{work_id}/offers").status_code == 404


def test_a_withdrawn_offer_leaves_the_list(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    offer_id = market.offer(work_id, "retail")
    market.client.delete(f"{API}/offers/{offer_id}", headers=market.alice.headers)
    assert market.client.get(f"{API}/works/{work_id}/offers").json() == []


def test_a_retail_grant_is_active_and_a_wholesale_one_awaits_payment(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    retail = market.take(market.offer(work_id, "retail")).json()
    wholesale = market.take(market.offer(work_id, "wholesale", "bundle")).json()
    assert (retail["status"], wholesale["status"]) == ("active", "pending_payment")
    assert wholesale["gross_minor"] == 10_000


def test_only_a_brand_accepts_an_offer(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    taken = market.take(market.offer(work_id, "retail"), market.bob)
    assert taken.status_code == 403
    assert "not a brand" in taken.json()["detail"]


def test_a_grant_certificate_verifies_offline(market: Market) -> None:
    grant = market.retail_grant()
    certificate = market.client.get(grant["certificate_url"]).json()
    assert CertificatePublic.model_validate(certificate).model_dump(mode="json") == certificate
    check = verify_certificate(certificate, market.services.signer.public_key)
    assert check.valid
    assert isinstance(check.event, GrantEvent)
    assert check.event.grant_id == grant["id"]


def test_a_tampered_grant_certificate_is_refused(market: Market) -> None:
    grant = market.retail_grant()
    certificate = market.client.get(grant["certificate_url"]).json()
    certificate["leaf"] = certificate["leaf"].replace('"retail"', '"buyout"')
    assert not verify_certificate(certificate, market.services.signer.public_key).valid


def read_every_leaf(reader: TestClient) -> list[bytes]:
    leaves = []
    while (response := reader.get(f"{API}/log/leaves/{len(leaves)}")).status_code == 200:
        leaves.append(base64.b64decode(response.json()["leaf_base64"]))
    assert response.status_code == 404
    return leaves


def test_a_stranger_reading_every_leaf_sees_no_private_value(market: Market) -> None:
    registered = market.client.post(
        f"{API}/works",
        headers=market.alice.headers,
        files={"file": ("koi.png", random_png(404))},
        data={"visibility": "private"},
    )
    assert registered.status_code == 201, registered.text
    private = registered.json()
    with market.services.session() as session:
        work = session.get(Work, private["work_id"])
        assert work is not None
        assert work.fingerprint is not None
        fingerprints = Fingerprint.from_bytes(work.fingerprint).digests()
    grant = market.retail_grant()
    figures = [{"units": 73_129_581, "net_revenue_minor": 918_273_645}]
    reported = market.report(grant["id"], one_line(report_id="q3-confidential", lines=figures))
    assert reported.status_code == 201, reported.text
    royalty = reported.json()["lines"][0]["royalty_minor"]
    private_values = [
        private["sha256"],
        *fingerprints.values(),
        "brand.example",
        "q3-confidential",
        "73129581",
        "918273645",
        str(royalty),
        '"alice"',
        '"bob"',
        "@example.com",
    ]
    stranger = TestClient(market.client.app)
    leaves = read_every_leaf(stranger)
    kinds = {parse_event(leaf).event_type for leaf in leaves}
    assert kinds == {"registration", "license_consent", "license_grant", "license_report"}
    raw = b"\n".join(leaves)
    for value in private_values:
        assert value.encode() not in raw, f"the public log shows {value}"
    assert stranger.get(f"{API}/verify/{private['work_id']}").status_code == 404
    owned = market.client.get(
        f"{API}/works/{private['work_id']}/certificate", headers=market.alice.headers
    ).json()
    check = verify_certificate(owned, market.services.signer.public_key)
    assert check.valid, check.reason
    assert check.disclosed == {"sha256": private["sha256"], "fingerprints": fingerprints}


def test_the_holders_certificates_prove_the_figures_offline_and_a_stranger_gets_none(
    market: Market, tmp_path: Path
) -> None:
    grant = market.retail_grant()
    figures = [{"units": 12, "net_revenue_minor": 34_000}]
    line = market.report(grant["id"], one_line(lines=figures)).json()["lines"][0]
    stranger = TestClient(market.client.app)
    key = tmp_path / "key.pem"
    key.write_text(stranger.get(f"{API}/log/key.pem").text)
    assert stranger.get(line["certificate_url"]).status_code == 401
    certificate = market.client.get(line["certificate_url"], headers=market.brand.headers).json()
    path = tmp_path / "line.json"
    path.write_text(json.dumps(certificate))
    checked = copymark("verify", str(path), "--public-key", str(key), "--json")
    assert checked.returncode == 0, checked.stderr
    disclosed = json.loads(checked.stdout)["disclosed"]
    assert (disclosed["units"], disclosed["net_revenue_minor"]) == (12, 34_000)
    assert disclosed["gross_minor"] == line["royalty_minor"]
    certificate["openings"]["units"]["value"] = 13
    path.write_text(json.dumps(certificate))
    forged = copymark("verify", str(path), "--public-key", str(key))
    assert forged.returncode == 1
    assert "units does not match" in forged.stderr
    public_key = LogPublicKey.from_pem(key.read_text())
    assert stranger.get(grant["certificate_url"]).json()["openings"] == {}
    own = market.client.get(grant["certificate_url"], headers=market.brand.headers).json()
    assert verify_certificate(own, public_key).disclosed["licensee_domain"] == "brand.example"


def test_a_sales_line_certificate_is_refused_to_another_brand(market: Market) -> None:
    grant = market.retail_grant()
    line = market.report(grant["id"], one_line()).json()["lines"][0]
    other = make_account(market.client, "rival@other.example", roles=["brand"])
    refused = market.client.get(line["certificate_url"], headers=other.headers)
    assert refused.status_code == 404
    assert "not found" in refused.json()["detail"]


def test_a_sales_report_returns_royalties_with_allocation_lines(market: Market) -> None:
    grant = market.retail_grant()
    reported = market.report(grant["id"], one_line())
    body = reported.json()
    assert (reported.status_code, body["royalties_minor"]) == (201, 10_000)
    assert {line["party"]: line["amount_minor"] for line in body["lines"][0]["allocations"]} == {
        "alice": 6000,
        "bob": 4000,
    }


def test_each_report_line_is_covered_by_its_report_leaf(market: Market) -> None:
    grant = market.retail_grant()
    line = market.report(grant["id"], one_line()).json()["lines"][0]
    with market.services.session() as session:
        event = parse_event(AttestationLog(session).leaf(line["log_index"]).leaf)
    assert isinstance(event, ReportSplitEvent)
    certificate = market.client.get(line["certificate_url"], headers=market.brand.headers).json()
    check = verify_certificate(certificate, market.services.signer.public_key)
    assert check.event == event
    assert check.disclosed["gross_minor"] == line["royalty_minor"]


def test_a_repeated_report_answers_the_stored_result_and_records_nothing(market: Market) -> None:
    grant = market.retail_grant()
    first = market.report(grant["id"], one_line()).json()
    before = market.snapshot()
    again = market.report(grant["id"], one_line())
    assert (again.status_code, again.json()["lines"]) == (200, first["lines"])
    assert market.snapshot() == before


def test_a_csv_report_is_split_like_json(market: Market) -> None:
    grant = market.retail_grant()
    reported = market.client.post(
        f"{API}/grants/{grant['id']}/sales-reports/csv",
        params={"report_id": "2026-10", "currency": "USD"},
        content="units,net_revenue,channel\n10,600.00,web\n5,400.00,\n",
        headers={**market.brand.headers, "content-type": "text/csv"},
    )
    assert reported.status_code == 201, reported.text
    assert [line["royalty_minor"] for line in reported.json()["lines"]] == [6000, 4000]


def test_a_correction_answers_what_changes_for_each_party(market: Market) -> None:
    grant = market.retail_grant()
    market.report(grant["id"], one_line())
    corrected = market.report(
        grant["id"],
        one_line(
            report_id="2026-10-fix",
            corrects="2026-10",
            lines=[{"units": 10, "net_revenue_minor": 50_000}],
        ),
    )
    owed = {entry["party"]: entry["amount_minor"] for entry in corrected.json()["owed"]}
    assert owed == {"alice": -3000, "bob": -2000}


def test_an_unpaid_buyout_leaves_the_work_with_its_creator(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    retail_offer = market.offer(work_id, "retail")
    taken = market.take(market.offer(work_id, "buyout"))
    assert (taken.status_code, taken.json()["status"]) == (201, "pending_payment"), taken.text
    mine = market.client.get(f"{API}/works/{work_id}", headers=market.alice.headers)
    assert mine.status_code == 200
    assert (work_id, market.alice.user_id) in market.snapshot()["owners"]
    withdrawn = market.client.delete(f"{API}/offers/{retail_offer}", headers=market.brand.headers)
    assert withdrawn.status_code == 404
    assert [offer["id"] for offer in market.client.get(f"{API}/works/{work_id}/offers").json()] == [
        retail_offer,
        taken.json()["offer_id"],
    ]


def test_a_pending_buyout_refuses_another_buyout_with_409(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    market.take(market.offer(work_id, "buyout"))
    second = market.take(market.offer(work_id, "buyout"))
    assert second.status_code == 409
    assert "reserved by a buyout awaiting payment" in second.json()["detail"]


def test_a_cancelled_buyout_lets_another_brand_buy(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    first = market.take(market.offer(work_id, "buyout")).json()
    cancelled = market.client.delete(f"{API}/grants/{first['id']}", headers=market.brand.headers)
    assert cancelled.json()["status"] == "cancelled"
    assert market.take(market.offer(work_id, "buyout")).status_code == 201


def test_an_unpaid_wholesale_grant_is_not_licensed_and_has_no_certificate(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    grant = market.take(market.offer(work_id, "wholesale", "bundle")).json()
    checked = market.client.get(
        f"{API}/licenses/check", params={"work_id": work_id, "domain": "brand.example"}
    ).json()
    assert (checked["licensed"], checked["grants"]) == (False, [])
    assert market.client.get(grant["certificate_url"]).status_code == 404


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_parallel_buyouts_grant_exactly_one(market: Market) -> None:
    work_id = market.work()
    market.activate(work_id)
    buyers = [market.brand] + [
        brand_account(
            market.client, market.services, f"buyer@b{n}.example", f"b{n}.example", market.inbox
        )
        for n in range(3)
    ]
    offers = [market.offer(work_id, "buyout") for _ in buyers]
    start = threading.Barrier(len(buyers))

    def buy(buyer: Account, offer_id: int) -> int:
        start.wait()
        return market.take(offer_id, buyer).status_code

    with ThreadPoolExecutor(len(buyers)) as pool:
        statuses = sorted(pool.map(buy, buyers, offers))
    with market.services.session() as session:
        buyouts = session.exec(
            select(func.count()).where(col(LicenseGrant.sale_type) == "buyout")
        ).one()
    assert (statuses, buyouts) == ([201, 409, 409, 409], 1)


def test_a_licensed_domain_gets_its_grants_and_certificate_links(market: Market) -> None:
    grant = market.retail_grant()
    checked = market.client.get(
        f"{API}/licenses/check",
        params={"work_id": grant["work_id"], "domain": "https://shop.brand.example/koi"},
    ).json()
    assert checked["licensed"]
    assert [(g["grant_id"], g["certificate_url"]) for g in checked["grants"]] == [
        (grant["id"], grant["certificate_url"])
    ]


def test_another_domain_is_not_licensed(market: Market) -> None:
    grant = market.retail_grant()
    checked = market.client.get(
        f"{API}/licenses/check",
        params={"work_id": grant["work_id"], "domain": "brand.example.evil"},
    ).json()
    assert (checked["licensed"], checked["grants"]) == (False, [])


def test_a_public_suffix_cannot_be_claimed_as_an_organisation_domain(market: Market) -> None:
    """The outside probe's case: an organisation for co.uk would license every .co.uk site."""
    buyer = make_account(market.client, "buyer@suffix.example", ["brand"], inbox=market.inbox)
    created = market.client.post(
        f"{API}/organisations", json={"name": "UK", "domain": "co.uk"}, headers=buyer.headers
    )
    assert created.status_code == 400
    assert "co.uk is a public suffix" in created.json()["detail"]


def test_an_unverified_organisation_domain_licenses_no_site(market: Market) -> None:
    """A claimed but unproven domain names no licensee, for the check and the crawler alike."""
    claimer = make_account(market.client, "buyer@claimer.example", ["brand"], inbox=market.inbox)
    created = market.client.post(
        f"{API}/organisations",
        json={"name": "Not the BBC", "domain": "bbc.co.uk"},
        headers=claimer.headers,
    )
    assert (created.status_code, created.json()["domain_verified"]) == (201, False)
    work_id = market.work()
    market.activate(work_id)
    assert market.take(market.offer(work_id, "retail"), claimer).status_code == 201
    checked = market.client.get(
        f"{API}/licenses/check", params={"work_id": work_id, "domain": "www.bbc.co.uk"}
    ).json()
    assert (checked["licensed"], checked["grants"]) == (False, [])
    assert not market.services.monitor().licensed(work_id, "https://www.bbc.co.uk/news")


def test_domain_verification_without_the_record_says_where_to_publish_it(market: Market) -> None:
    buyer = make_account(market.client, "buyer@shop.example", ["brand"], inbox=market.inbox)
    created = market.client.post(
        f"{API}/organisations",
        json={"name": "Shop", "domain": "shop.example"},
        headers=buyer.headers,
    )
    verification = f"{API}/organisations/{created.json()['id']}/domain-verification"
    challenge = market.client.post(verification, headers=buyer.headers).json()
    checked = market.client.post(f"{verification}/check", headers=buyer.headers)
    assert checked.status_code == 422
    assert challenge["dns_name"] == "_copymark-verify.shop.example"
    assert challenge["dns_value"] in checked.json()["detail"]
    assert challenge["url"] == "https://shop.example/.well-known/copymark-verify.txt"


def test_a_second_organisation_cannot_verify_a_domain_another_verified(market: Market) -> None:
    rival = make_account(market.client, "rival@rival.example", ["brand"], inbox=market.inbox)
    created = market.client.post(
        f"{API}/organisations",
        json={"name": "Rival", "domain": "brand.example"},
        headers=rival.headers,
    )
    assert created.status_code == 409
    assert "already verified by another organisation" in created.json()["detail"]


def test_a_stranger_signed_up_with_a_party_address_cannot_consent(market: Market) -> None:
    """The outside probe's case: sign up as the address a contract names, then consent."""
    work_id = market.work()
    document = contract(work_id)
    document["parties"][1]["account"] = "acct:carol@example.com"
    proposed = market.client.post(
        f"{API}/works/{work_id}/contract-versions", json=document, headers=market.alice.headers
    )
    stranger = make_account(market.client, "carol@example.com")  # never opens the link
    market.consent(proposed.json()["id"], market.alice, "alice")
    refused = market.consent(proposed.json()["id"], stranger, "bob")
    assert refused.status_code == 403
    assert refused.json()["code"] == "email_not_verified"
    assert refused.json()["detail"].startswith("Verify your email address first")
    assert "consent to a contract" in refused.json()["detail"]
    versions = market.client.get(
        f"{API}/works/{work_id}/contract-versions", headers=market.alice.headers
    ).json()
    assert [(v["status"], v["consented_parties"]) for v in versions] == [("draft", ["alice"])]


@pytest.mark.parametrize("registered", ["bücher.example", "XN--BCHER-KVA.example"])
def test_an_organisation_domain_is_recognised_under_either_spelling(
    market: Market, registered: str
) -> None:
    """The license check API and the crawler's licensed-use skip read domains one way."""
    buyer = brand_account(
        market.client, market.services, "buyer@books.example", registered, market.inbox
    )
    (organisation,) = market.client.get(f"{API}/organisations", headers=buyer.headers).json()
    assert organisation["domain"] == "xn--bcher-kva.example"
    work_id = market.work()
    market.activate(work_id)
    taken = market.take(market.offer(work_id, "retail"), buyer)
    assert taken.status_code == 201, taken.text
    crawler = market.services.monitor()  # the app's wiring of the crawler's licensed skip
    for spelling in (
        "bücher.example",
        "xn--bcher-kva.example",
        "BÜCHER.EXAMPLE.",
        "https://shop.bücher.example/koi",
        "https://shop.xn--bcher-kva.example:8443/koi?size=l",
    ):
        checked = market.client.get(
            f"{API}/licenses/check", params={"work_id": work_id, "domain": spelling}
        ).json()
        assert [g["grant_id"] for g in checked["grants"]] == [taken.json()["id"]], spelling
        assert crawler.licensed(work_id, spelling), spelling
    for elsewhere in ("bucher.example", "https://xn--bcher-kva.example.evil.test/"):
        checked = market.client.get(
            f"{API}/licenses/check", params={"work_id": work_id, "domain": elsewhere}
        ).json()
        assert not checked["licensed"], elsewhere
        assert not crawler.licensed(work_id, elsewhere), elsewhere


@pytest.mark.parametrize(
    "domain", ["   ", "a..example", "\ue000.example", "brand.example:99999", "a" * 2048]
)
def test_a_license_check_of_text_naming_no_domain_is_refused(market: Market, domain: str) -> None:
    grant = market.retail_grant()
    response = market.client.get(
        f"{API}/licenses/check", params={"work_id": grant["work_id"], "domain": domain}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "domain_invalid"
    assert "names no domain" in response.json()["detail"]


# Each case sets the market up, then returns the refused request and a phrase its answer names.
Refusal = Callable[[Market], tuple[Callable[[], httpx.Response], str]]


def shares_not_summing(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    parties = contract(0)["parties"]
    parties[1]["share_bp"] = 3000
    work_id = m.work()
    return lambda: m.propose(work_id, parties=parties), "must sum to exactly 10000"


def unknown_party(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    version_id = m.propose(m.work()).json()["id"]
    return lambda: m.consent(version_id, m.alice, "carol"), "no party 'carol'"


def overlapping_tiers(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    tiers = [{"from_units": 0, "rate_bp": 1000}, {"from_units": 0, "rate_bp": 2000}]
    work_id = m.work()
    return lambda: m.propose(work_id, retail={"tiers": tiers}), "overlap"


def float_fee(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    work_id = m.work()
    return lambda: m.propose(work_id, buyout={"fee": usd(5000.5)}), "buyout.fee.amount_minor"


def float_reported_amount(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    grant_id = m.retail_grant()["id"]
    lines = [{"units": 1, "net_revenue_minor": 12.5}]
    return lambda: m.report(grant_id, one_line(lines=lines)), "net_revenue_minor"


def float_csv_amount(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    grant_id = m.retail_grant()["id"]
    return lambda: m.client.post(
        f"{API}/grants/{grant_id}/sales-reports/csv",
        params={"report_id": "r", "currency": "USD"},
        content="units,net_revenue_minor\n1,12.5\n",
        headers={**m.brand.headers, "content-type": "text/csv"},
    ), "whole number"


def reported_units_beyond_int64(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    grant_id = m.retail_grant()["id"]
    lines = [{"units": 2**63, "net_revenue_minor": 100}]
    return lambda: m.report(grant_id, one_line(lines=lines)), "lines.0.units"


def reported_amount_beyond_exact_json(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    grant_id = m.retail_grant()["id"]
    lines = [{"units": 1, "net_revenue_minor": 2**53}]
    return lambda: m.report(
        grant_id, one_line(lines=lines)
    ), f"less than or equal to {MAX_AMOUNT_MINOR}"


def granted_units_beyond_int64(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    work_id = m.work()
    m.activate(work_id)
    offer_id = m.offer(work_id, "wholesale")
    return lambda: m.client.post(
        f"{API}/offers/{offer_id}/grants", json={"units": 2**63}, headers=m.brand.headers
    ), "units"


def csv(m: Market, grant_id: int, text: str) -> httpx.Response:
    return m.client.post(
        f"{API}/grants/{grant_id}/sales-reports/csv",
        params={"report_id": "r", "currency": "USD"},
        content=text.encode(),
        headers={**m.brand.headers, "content-type": "text/csv"},
    )


def csv_amount_in_arabic_indic_digits(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    grant_id = m.retail_grant()["id"]
    return lambda: csv(m, grant_id, "units,net_revenue\n1,\u0661.00\n"), "not a decimal number"


def csv_channel_longer_than_json_allows(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    grant_id = m.retail_grant()["id"]
    text = f"units,net_revenue,channel\n1,1.00,{'c' * 100_000}\n"
    return lambda: csv(m, grant_id, text), "channel: String should have at most 128 characters"


def excess_csv_precision(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    grant_id = m.retail_grant()["id"]
    return lambda: m.client.post(
        f"{API}/grants/{grant_id}/sales-reports/csv",
        params={"report_id": "r", "currency": "USD"},
        content="units,net_revenue\n1,1.005\n",
        headers={**m.brand.headers, "content-type": "text/csv"},
    ), "more than 2 decimal places"


def report_currency_mismatch(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    grant_id = m.retail_grant()["id"]
    return lambda: m.report(grant_id, one_line(currency="EUR")), "currency mismatch"


def contract_currency_mismatch(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    work_id = m.work()
    fee = {"amount_minor": 100, "currency": "EUR"}
    return lambda: m.propose(work_id, buyout={"fee": fee}), "currency mismatch"


def cyclic_derivation(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    original, remix = m.work(), m.work()
    m.activate(original)
    m.activate(remix, parents=[{"work": f"work-{original}", "share_bp": 2000}])
    parents = [{"work": f"work-{remix}", "share_bp": 2000}]
    return lambda: m.propose(original, version=2, parents=parents), "derivation cycle"


def offer_on_a_foreign_work(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    work_id = m.work()
    m.activate(work_id)
    return lambda: m.client.post(
        f"{API}/works/{work_id}/offers", json={"sale_type": "retail"}, headers=m.bob.headers
    ), "not found"


def grant_on_a_withdrawn_offer(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    work_id = m.work()
    m.activate(work_id)
    offer_id = m.offer(work_id, "retail")
    m.client.delete(f"{API}/offers/{offer_id}", headers=m.alice.headers)
    return lambda: m.take(offer_id), "withdrawn"


def second_buyout(m: Market) -> tuple[Callable[[], httpx.Response], str]:
    work_id = m.work()
    m.activate(work_id)
    first, second = m.offer(work_id, "buyout"), m.offer(work_id, "buyout")
    m.take(first)
    rival = brand_account(m.client, m.services, "rival@rival.example", "rival.example", m.inbox)
    return lambda: m.take(second, rival), "reserved by a buyout"


@pytest.mark.parametrize(
    "refusal",
    [
        shares_not_summing,
        unknown_party,
        overlapping_tiers,
        float_fee,
        float_reported_amount,
        float_csv_amount,
        excess_csv_precision,
        reported_units_beyond_int64,
        reported_amount_beyond_exact_json,
        granted_units_beyond_int64,
        csv_amount_in_arabic_indic_digits,
        csv_channel_longer_than_json_allows,
        report_currency_mismatch,
        contract_currency_mismatch,
        cyclic_derivation,
        offer_on_a_foreign_work,
        grant_on_a_withdrawn_offer,
        second_buyout,
    ],
)
def test_bad_input_is_refused_and_records_nothing(market: Market, refusal: Refusal) -> None:
    attempt, phrase = refusal(market)
    before = market.snapshot()
    answer = attempt()
    assert 400 <= answer.status_code < 500, answer.text
    assert phrase in answer.json()["detail"]
    assert market.snapshot() == before


# Each case returns a route on an object alice can reach, as (method, path, json body).
Route = tuple[str, str, dict[str, Any] | None]


def version_route(m: Market) -> Route:
    return "GET", f"{API}/contract-versions/{m.propose(m.work()).json()['id']}", None


def consent_route(m: Market) -> Route:
    version_id = m.propose(m.work()).json()["id"]
    return "POST", f"{API}/contract-versions/{version_id}/consents", {"party_id": "alice"}


def versions_of_work_route(m: Market) -> Route:
    work_id = m.work()
    m.propose(work_id)
    return "GET", f"{API}/works/{work_id}/contract-versions", None


def withdraw_route(m: Market) -> Route:
    work_id = m.work()
    m.activate(work_id)
    return "DELETE", f"{API}/offers/{m.offer(work_id, 'retail')}", None


def grant_route(m: Market) -> Route:
    return "GET", f"{API}/grants/{m.retail_grant()['id']}", None


@pytest.mark.parametrize(
    "route", [version_route, consent_route, versions_of_work_route, withdraw_route, grant_route]
)
def test_an_object_of_another_user_answers_404(
    market: Market, route: Callable[[Market], Route]
) -> None:
    method, path, body = route(market)
    outsider = make_account(market.client, "eve@example.com")
    owner = market.client.request(method, path, json=body, headers=market.alice.headers)
    foreign = market.client.request(method, path, json=body, headers=outsider.headers)
    assert (owner.status_code < 300, foreign.status_code) == (True, 404)


def test_a_grant_is_visible_to_its_licensee(market: Market) -> None:
    grant = market.retail_grant()
    read = market.client.get(f"{API}/grants/{grant['id']}", headers=market.brand.headers)
    assert read.json()["id"] == grant["id"]


def test_sales_reports_under_another_licensee_grant_answer_404(market: Market) -> None:
    grant = market.retail_grant()
    rival = brand_account(
        market.client, market.services, "rival@rival.example", "rival.example", market.inbox
    )
    reported = market.client.post(
        f"{API}/grants/{grant['id']}/sales-reports", json=one_line(), headers=rival.headers
    )
    assert reported.status_code == 404
