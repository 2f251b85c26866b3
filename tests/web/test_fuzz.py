"""Schemathesis fuzzing of the OpenAPI schema: valid and invalid requests alike never get a 5xx answer.

Schemathesis strategies are driven by a plain Hypothesis test (its lazy pytest fixture loader does not
work with pytest 9), with a bounded number of examples per generation mode.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from lawt.web import create_app
from lawt.web.services import Limits

EXAMPLES = 150


@pytest.fixture
def web_schema(tiny_zoo: Path, tmp_path: Path):
    limits = Limits(comments_per_visitor=10_000, comments_overall=10_000)
    app = create_app(tiny_zoo, f"sqlite:///{tmp_path / 'fuzz.db'}", limits=limits)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_schema_lists_every_endpoint(web_schema) -> None:
    assert {"/api/compute", "/api/models", "/api/example", "/api/comments", "/api/stats", "/healthz"} == set(
        web_schema.raw_schema["paths"])


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_server_errors(web_schema, mode: str) -> None:
    @given(case=web_schema.as_strategy(schemathesis.GenerationMode(mode)))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        response = case.call()
        assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text}"

    check()
