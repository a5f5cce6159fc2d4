"""The API answers what its OpenAPI schema says: schemathesis drives every operation in-process.

Each operation gets a few generated requests that fit its schema and a few that break it, sent
with a signed-in account's API key through the ASGI app. Any 5xx fails, as does a response whose
status, media type, headers or body the schema does not declare, or a schema-breaking request
that is accepted.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from schemathesis.core.failures import FailureGroup

from frontend.services import Services
from frontend.settings import Settings
from settlement.stripe.sandbox import SANDBOX_API_KEY, LocalStripe
from tests.factories import make_account
from tests.support.localstripe import localstripe  # noqa: F401 - the fixture

# Enough to meet each operation's parameters and bodies at their bounds, few enough that the
# whole API is checked in a couple of minutes on two cores.
EXAMPLES_PER_OPERATION = 6
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)


@pytest.fixture
def settings(settings: Settings, localstripe: LocalStripe) -> Settings:  # noqa: F811
    """A server that takes payments and webhooks, so no operation answers 503 as unconfigured."""
    return settings.model_copy(
        update={
            "stripe_api_key": SANDBOX_API_KEY,
            "stripe_api_base": localstripe.api_base,
            "stripe_webhook_secret": "whsec_schema_probe",
        }
    )


@pytest.fixture
def services(notifying_services: Services) -> Services:
    """A server that sends email (to a loopback SMTP server), verification links included."""
    return notifying_services


# The schema is the same on either database; one keeps the run short.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_operation_answers_as_its_schema_says(client: TestClient) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    checks = [CHECKS.get_one(name) for name in CHECK_NAMES]
    roles = ["creator", "rights_holder", "brand"]
    bearer = make_account(client, "probe@example.com", roles=roles).headers
    problems: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @examples(
                max_examples=EXAMPLES_PER_OPERATION,
                suppress_health_check=list(HealthCheck),
                deadline=None,
                database=None,
                derandomize=True,
            )
            def conforms(case: Any) -> None:
                case.call_and_validate(headers=bearer, checks=checks)

            try:
                conforms()
            except Unsatisfiable:
                continue  # nothing in this operation can be made to break its schema
            except (AssertionError, FailureGroup) as failure:
                problems.append(f"{operation.label} [{mode.value}]: {failure}")
    assert operations > 50
    assert not problems, "\n\n".join(problems)
