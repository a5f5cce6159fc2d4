"""Row ids: a flushed row has one; asking an unflushed row for it is a programming error."""

from __future__ import annotations

import pytest

from registry.models import User, persisted_id
from registry.monitoring.models import Alert, CrawlJob
from registry.notifications.models import Notification


@pytest.mark.parametrize("table", [User, CrawlJob, Alert, Notification])
def test_a_row_without_an_id_raises_instead_of_answering_zero(table: type) -> None:
    row = table()
    with pytest.raises(RuntimeError, match=f"{table.__name__} has no id: flush the session first"):
        persisted_id(row)


def test_a_flushed_row_answers_its_id() -> None:
    assert persisted_id(User(id=7)) == 7
