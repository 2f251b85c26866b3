"""The API on a real SQLite file: compute, models, examples, comments, stats, health, headers."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from lawt.ops import OPERATIONS
from lawt.web import create_app

SQUARE = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]


def test_compute_transpose_with_the_model(client: TestClient) -> None:
    response = client.post("/api/compute", json={"operation": "transpose", "operands": [SQUARE]})
    assert response.status_code == 200
    answer = response.json()
    assert answer["provenance"] == "transformer"
    assert answer["provenance_detail"] == "computed by the transformer"
    assert answer["exact_answer"] == [[[1.0, 4.0, 7.0], [2.0, 5.0, 8.0], [3.0, 6.0, 9.0]]]
    assert len(answer["model_answer"][0]) == 3
    assert set(answer["passes"]) == {"5%", "2%", "1%", "0.5%"}
    assert 0 <= answer["confidence"] <= 1
    calibration = answer["calibration"]  # the card's test answers as confident as this one
    assert calibration["from"] <= answer["confidence_per_number"] < calibration["to"]
    assert calibration["count"] >= 40 and calibration["accuracy"]["5%"] == 0.25
    assert answer["timing_ms"]["model"] > 0
    assert answer["model"]["operation"] == "transpose"
    assert answer["model"]["encoder_layers"] == 1
    assert answer["model"]["training_cpu_hours"] == 1.0
    assert answer["model"]["started_from"] == {"operation": "singular_values", "cpu_hours": 0.5}
    assert answer["model"]["bar_this_size"] == {"tolerance": 0.01, "share": 0.99, "problems": 2000,
                                                "accuracy": 0.995, "met": True}  # 3x3, measured by `lawt bar`
    assert len(answer["tokens"]) == 9
    assert answer["beams"] == []


def test_compute_far_outside_the_training_range_is_scaled_into_it(client: TestClient) -> None:
    """Entries of 1e200 (beyond every encoding) are read scaled by 10^-200 and answered by the model."""
    big = [[x * 1e200 for x in row] for row in SQUARE]
    response = client.post("/api/compute", json={"operation": "transpose", "operands": [big]})
    assert response.status_code == 200
    answer = response.json()
    assert answer["provenance"] == "transformer" and answer["scaled_by"] == [-200]
    assert "10^-200" in answer["provenance_detail"]
    plain = client.post("/api/compute", json={"operation": "transpose", "operands": [SQUARE]}).json()
    assert plain["scaled_by"] == [0] and answer["tokens"] == plain["tokens"]


def test_compute_untrained_size_is_labelled(client: TestClient) -> None:
    answer = client.post("/api/compute", json={"operation": "transpose", "operands": [[[1, 2, 3]]]}).json()
    assert answer["provenance"] == "transformer-untrained-size"
    assert "2x2, 3x3, 4x4, 5x5" in answer["provenance_detail"]
    assert answer["model"]["bar_this_size"] is None  # not measured at 1x3


def test_compute_with_beam_returns_alternatives(client: TestClient) -> None:
    answer = client.post("/api/compute", json={"operation": "transpose", "operands": [SQUARE], "beam": 3}).json()
    assert len(answer["beams"]) == 3
    assert all({"answer", "log_prob", "relative_error", "not_invertible"} <= set(b) for b in answer["beams"])


def test_operation_without_model_says_so_and_gives_only_the_exact_answer(client: TestClient) -> None:
    answer = client.post("/api/compute", json={"operation": "sum", "operands": [[[1, 2]], [[3, 4]]]}).json()
    assert answer["provenance"] == "model-unavailable"
    assert answer["provenance_detail"].startswith("model unavailable: ")
    assert answer["model_answer"] is None
    assert answer["exact_answer"] == [[[4.0, 6.0]]]


def test_vector_may_be_a_plain_list(client: TestClient) -> None:
    answer = client.post("/api/compute", json={"operation": "matvec", "operands": [[[1, 2], [3, 4]], [1, 1]]}).json()
    assert answer["exact_answer"] == [[[3.0], [7.0]]]


def test_singular_inverse_reports_determinant_and_condition(client: TestClient) -> None:
    answer = client.post("/api/compute", json={"operation": "inverse", "operands": [[[1, 2], [2, 4]]]}).json()
    assert answer["invertible"]["exact"] is False
    assert answer["invertible"]["determinant"] == pytest.approx(0.0, abs=1e-12)
    assert answer["exact_answer"] is None


def test_overflowing_determinant_is_null_not_invalid_json(client: TestClient) -> None:
    response = client.post("/api/compute", json={"operation": "inverse", "operands": [[[1e300, 0], [0, 1e300]]]})
    assert response.status_code == 200
    assert response.json()["invertible"]["determinant"] is None


def test_models_lists_all_nine_operations(client: TestClient) -> None:
    rows = client.get("/api/models").json()
    assert [r["operation"] for r in rows] == list(OPERATIONS)
    transpose = rows[0]
    assert transpose["available"] and transpose["card"]["sizes"] == ["2x2", "3x3", "4x4", "5x5"]
    for row in rows[1:]:
        assert not row["available"] and row["reason"] and row["card"] is None
    eigen = next(r for r in rows if r["operation"] == "eigenvalues")
    assert eigen["square"] and eigen["symmetric"]


def test_example_uses_a_trained_size(client: TestClient) -> None:
    example = client.get("/api/example", params={"operation": "transpose"}).json()
    assert example["size"] in {"2x2", "3x3", "4x4", "5x5"}
    assert example["trained_size"] is True
    assert example["distribution"] == "uniform"
    n = int(example["size"][0])
    assert len(example["operands"][0]) == n and all(abs(x) <= 10 for row in example["operands"][0] for x in row)


def test_example_of_requested_size_feeds_compute(client: TestClient) -> None:
    example = client.get("/api/example", params={"operation": "eigenvalues", "size": "4x4"}).json()
    a = example["operands"][0]
    assert len(a) == 4 and all(a[i][j] == a[j][i] for i in range(4) for j in range(4))
    response = client.post("/api/compute", json={"operation": "eigenvalues", "operands": example["operands"]})
    assert response.status_code == 200


@pytest.mark.parametrize("params", [{"operation": "inverse", "size": "3x4"}, {"operation": "sum", "size": "11x2"},
                                    {"operation": "nope"}, {"operation": "sum", "size": "3by3"}, {}])
def test_example_rejects_bad_parameters(client: TestClient, params: dict) -> None:
    response = client.get("/api/example", params=params)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str)


def test_comments_newest_first_with_timestamps(client: TestClient) -> None:
    for text in ("first", "  second  ", "矩阵很好"):
        assert client.post("/api/comments", json={"text": text}).status_code == 201
    comments = client.get("/api/comments").json()
    assert [c["text"] for c in comments] == ["矩阵很好", "second", "first"]
    assert all(datetime.fromisoformat(c["created_at"]).tzinfo is not None for c in comments)


def test_comment_of_100_chinese_characters_is_accepted(client: TestClient) -> None:
    response = client.post("/api/comments", json={"text": "好" * 100})
    assert response.status_code == 201
    assert response.json()["text"] == "好" * 100


def test_hostile_comment_is_stored_as_plain_text(client: TestClient) -> None:
    text = "'); DROP TABLE comments; -- <script>alert(1)</script>"
    assert client.post("/api/comments", json={"text": text}).status_code == 201
    assert client.get("/api/comments").json()[0]["text"] == text


def test_stats_count_visitors_and_computations(client: TestClient, tiny_zoo, database_url: str) -> None:
    client.post("/api/compute", json={"operation": "transpose", "operands": [SQUARE]})
    client.post("/api/compute", json={"operation": "transpose", "operands": [SQUARE]})
    client.post("/api/compute", json={"operation": "sum", "operands": [[[1]], [[2]]]})
    with TestClient(create_app(tiny_zoo, database_url)) as other:  # a second visitor, and a restart
        other.get("/api/models")
        stats = other.get("/api/stats").json()
    assert stats == {"online_now": 2, "total_visitors": 2, "computations": 3, "most_used_operation": "transpose",
                     "most_used_count": 2}


def test_visitor_cookie_is_httponly_and_lax(client: TestClient) -> None:
    cookie = client.get("/").headers["set-cookie"]
    assert cookie.startswith("lawt_visitor=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "set-cookie" not in client.get("/api/stats").headers  # the cookie is kept


def test_security_headers(client: TestClient) -> None:
    for path in ("/", "/app.js", "/api/stats"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"


def test_page_and_assets_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "LAWT Calculator" in page.text
    assert client.get("/app.js").headers["content-type"].startswith("text/javascript")
    assert "http://" not in page.text and "https://" not in page.text


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "models_available": 1}


def test_openapi_describes_the_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/api/compute", "/api/models", "/api/example", "/api/comments", "/api/stats", "/healthz"} <= set(
        schema["paths"])
    assert "ComputeRequest" in schema["components"]["schemas"]
