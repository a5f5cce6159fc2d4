"""Security headers on every response, no inline script in any page, Secure session cookies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from frontend.app import create_app
from frontend.headers import CONTENT_SECURITY_POLICY
from frontend.services import Services
from frontend.settings import Settings
from tests.factories import Account

pytestmark = pytest.mark.pages_on_sqlite

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"
TEMPLATES = sorted((FRONTEND / "templates").glob("*.html"))
PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    "path",
    ["/", "/login", "/works/1", "/api/v1/me", "/static/site.css", "/nowhere", "/openapi.json"],
)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path, follow_redirects=False).headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_the_policy_runs_scripts_from_our_files_only_and_refuses_framing() -> None:
    directives = dict(
        directive.strip().split(" ", 1) for directive in CONTENT_SECURITY_POLICY.split(";")
    )
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in directives["default-src"] + directives["style-src"]


def test_the_api_docs_page_gets_its_own_policy_and_no_framing(client: TestClient) -> None:
    policy = client.get("/docs").headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert policy != CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_no_template_has_inline_script_or_event_handlers(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "move the script to static/"
    handler = re.search(r"\son[a-z]+\s*=(?!=)", text, re.IGNORECASE)
    assert not handler, "use addEventListener in static/"
    assert "javascript:" not in text.lower()
    for source in re.findall(r'<script[^>]*\bsrc="/static/([^"]+)"', text):
        assert (FRONTEND / "static" / source).is_file()


def test_pages_load_their_scripts_from_static_files(client: TestClient) -> None:
    page = client.get("/log").text
    assert '<script src="/static/log.js" defer></script>' in page
    script = client.get("/static/log.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


def session_cookie(client: TestClient, email: str) -> str:
    answer = client.post(
        "/login", data={"email": email, "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["set-cookie"]


def test_the_session_cookie_is_secure_over_https(services: Services, alice: Account) -> None:
    with TestClient(create_app(services=services), base_url="https://testserver") as secure:
        cookie = session_cookie(secure, alice.email)
    assert "; secure" in cookie.lower()
    assert "httponly" in cookie.lower()


def test_the_session_cookie_over_plain_http_is_secure_only_if_settings_say_so(
    client: TestClient, settings: Settings, alice: Account
) -> None:
    assert "; secure" not in session_cookie(client, alice.email).lower()
    wiring = Services(settings.model_copy(update={"secure_cookies": True}))
    with TestClient(create_app(services=wiring)) as behind_proxy:
        assert "; secure" in session_cookie(behind_proxy, alice.email).lower()
    wiring.close()


@pytest.fixture
def signed_in(client: TestClient, alice: Account) -> TestClient:
    session_cookie(client, alice.email)
    return client


def test_pages_carry_the_csrf_token_for_their_scripts_in_a_meta_tag(
    signed_in: TestClient,
) -> None:
    page = signed_in.get("/works").text
    meta = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', page)
    form = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert meta is not None
    assert form is not None
    assert meta.group(1) == form.group(1)
