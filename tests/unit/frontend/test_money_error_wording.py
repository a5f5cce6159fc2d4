"""Licensing's and settlement's errors read in Chinese on a page, with every value as written,
while the JSON API keeps the English sentence."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel

import licensing.models  # noqa: F401 - registers the licensing tables before create_all
from frontend.i18n import gettext_in
from licensing.contract import parse_contract_data, parse_contract_text
from licensing.errors import InvalidSaleEventError, LicensingError, MarketQueryError
from licensing.models import GrantStatus, OfferStatus, VersionStatus
from licensing.reports import parse_sales_csv
from licensing.service.market import MarketQuery
from licensing.service.offers import publish_offer, withdraw_offer
from licensing.wording import in_words
from registry.db import make_engine
from registry.errors import CopymarkError
from registry.messages import Message
from registry.models import persisted_id
from settlement.errors import InvalidAccountError, StatementPeriodError
from settlement.ledger import PartyAccount, party_account
from settlement.statements import Period
from tests.unit.licensing.factories import contract_data
from tests.unit.licensing.service.support import World

# A value a client controls, holding everything a careless formatter would act on.
HOSTILE = "%(x)s {} {0} % 100%"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
zh = gettext_in("zh")


def chinese(error: CopymarkError) -> str:
    text = error.translated(zh)
    assert CHINESE.search(text), text
    return text


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'wording.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
        session.rollback()
    engine.dispose()


def test_a_search_for_an_unknown_licence_type_names_it_as_typed() -> None:
    with pytest.raises(MarketQueryError) as raised:
        MarketQuery(sale_type=HOSTILE)
    assert raised.value.message == f"there is no licence type {HOSTILE!r}"
    assert chinese(raised.value) == f"没有 {HOSTILE!r} 这种许可类型"


def test_a_csv_line_s_problem_names_the_line_and_the_value_in_chinese() -> None:
    with pytest.raises(InvalidSaleEventError) as raised:
        parse_sales_csv(f"units,net_revenue\n{HOSTILE},1.00\n", "USD")
    assert raised.value.message == f"CSV line 2: units must be a whole number, got {HOSTILE!r}"
    assert chinese(raised.value) == f"CSV 第 2 行：units 必须是整数，收到的是 {HOSTILE!r}"


def test_a_csv_amount_s_own_error_is_translated_inside_the_line_s() -> None:
    with pytest.raises(InvalidSaleEventError) as raised:
        parse_sales_csv(f"units,net_revenue\n1,{HOSTILE}\n", "USD")
    assert raised.value.message == (
        f"CSV line 2: net_revenue: amount {HOSTILE!r} is not a decimal number like 12.50"
    )
    text = chinese(raised.value)
    assert text.startswith("CSV 第 2 行：net_revenue：")
    assert repr(HOSTILE) in text
    assert "is not" not in text


def test_a_duplicate_contract_key_is_named_as_written() -> None:
    document = f'{{"{HOSTILE}": 1, "{HOSTILE}": 2}}'
    with pytest.raises(LicensingError) as raised:
        parse_contract_text(document)
    assert raised.value.message == f"invalid contract: key {HOSTILE!r} appears twice"
    assert chinese(raised.value) == f"合同无效：键 {HOSTILE!r} 出现了两次"


def test_every_broken_contract_rule_reaches_the_form_in_chinese() -> None:
    retail = {
        "tiers": [{"from_units": 5, "rate_bp": 1000}],
        "by_channel": [{"tiers": [{"from_units": 0, "rate_bp": 500}]}],
    }
    with pytest.raises(LicensingError) as raised:
        parse_contract_data(contract_data(retail=retail))
    assert raised.value.message == (
        "invalid contract: retail.tiers: the first tier must start at 0, not 5; "
        "retail.by_channel[0]: channel rates need a 'channel', a 'territory' or both"
    )
    assert chinese(raised.value) == (
        "合同无效：retail.tiers：第一个档位必须从 0 开始，而不是 5；"
        "retail.by_channel[0]：渠道费率需要 'channel'、'territory' 或两者兼有"
    )


def test_a_statement_period_is_quoted_as_typed() -> None:
    with pytest.raises(StatementPeriodError) as raised:
        Period.parse(HOSTILE)
    assert raised.value.message.startswith(f"{HOSTILE[:20]!r} is not a statement period")
    assert chinese(raised.value).startswith(f"{HOSTILE[:20]!r} 不是结算单期间")


def test_a_ledger_account_reference_is_quoted_as_given() -> None:
    with pytest.raises(InvalidAccountError) as raised:
        party_account(HOSTILE, PartyAccount.PAYABLE)
    assert raised.value.message == f"party account {HOSTILE!r} is not a reference"
    assert chinese(raised.value) == f"参与方账户 {HOSTILE!r} 不是有效的引用"


def test_an_unoffered_sale_type_is_named_beside_the_offered_ones_in_chinese_words(
    session: Session,
) -> None:
    world = World(session)
    world.activate(
        world.document(
            wholesale={"packages": [{"id": "web", "fee": {"amount_minor": 100, "currency": "USD"}}]}
        )
    )
    with pytest.raises(InvalidSaleEventError) as raised:
        publish_offer(session, world.ana, persisted_id(world.work), HOSTILE)
    work = persisted_id(world.work)
    assert raised.value.message == (
        f"the active contract of work {work} offers no {HOSTILE} sales "
        "(it offers retail, wholesale)"
    )
    assert chinese(raised.value) == f"作品 {work} 的生效合同不提供{HOSTILE}（它提供：零售、批发）"


def test_a_state_inside_a_refusal_is_a_chinese_word(session: Session) -> None:
    world = World(session)
    world.activate(world.document())
    offer = publish_offer(session, world.ana, persisted_id(world.work), "retail")
    withdraw_offer(session, world.ana, persisted_id(offer))
    with pytest.raises(CopymarkError) as raised:
        withdraw_offer(session, world.ana, persisted_id(offer))
    assert raised.value.message == f"offer {offer.id} is already withdrawn"
    assert chinese(raised.value) == f"报价 {offer.id} 的状态已是已撤回"


@pytest.mark.parametrize(
    "value",
    [
        *(status for status in OfferStatus if status != OfferStatus.OPEN),
        *VersionStatus,
        *GrantStatus,
        "retail",
        "wholesale",
        "buyout",
        "retroactive",
    ],
)
def test_every_state_and_sale_type_has_a_chinese_word(value: str) -> None:
    word = in_words(value)
    assert isinstance(word, Message)
    assert word.english() == value.replace("_", " ")
    assert CHINESE.search(word.render(zh))


def test_a_value_that_is_no_state_stays_as_written() -> None:
    assert in_words(HOSTILE) == HOSTILE
