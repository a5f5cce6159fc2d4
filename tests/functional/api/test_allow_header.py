"""A 405 names, in Allow, every method the path accepts: on a path with two, both."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH")


def paths_with_methods(client: TestClient) -> list[tuple[str, set[str]]]:
    spec = client.get("/openapi.json").json()
    return [
        (path, {method.upper() for method in item if method.upper() in HTTP_METHODS})
        for path, item in spec["paths"].items()
    ]


@pytest.fixture
def documented(client: TestClient) -> list[tuple[str, set[str]]]:
    return [(path, methods) for path, methods in paths_with_methods(client) if len(methods) >= 2]


def test_paths_with_two_methods_exist(documented: list[tuple[str, set[str]]]) -> None:
    assert len(documented) >= 10


def test_a_405_allows_every_documented_method_of_the_path(
    client: TestClient, documented: list[tuple[str, set[str]]]
) -> None:
    problems = []
    for path, methods in documented:
        url = path.replace("{domain}", "example.com")
        url = url.replace("{work_id}", "1").replace("{alert_id}", "1")
        refused = next(method for method in HTTP_METHODS if method not in methods)
        answer = client.request(refused, url)
        allowed = {m.strip() for m in answer.headers.get("allow", "").split(",")} - {"HEAD"}
        if answer.status_code != 405 or allowed != methods:
            problems.append(f"{refused} {url}: {answer.status_code}, Allow {sorted(allowed)}")
        elif not all(method in answer.json()["detail"] for method in methods):
            problems.append(f"{refused} {url}: the message does not name {sorted(methods)}")
    assert not problems, "\n".join(problems)
