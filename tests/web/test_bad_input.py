"""Every bad input gets a 4xx JSON answer whose detail names the problem — never a 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

A2 = [[1, 2], [3, 4]]


def compute_body(operation: str = "transpose", operands: object = None, **extra: object) -> dict:
    return {"operation": operation, "operands": [A2] if operands is None else operands, **extra}


BAD_BODIES = {
    "empty matrix": (compute_body(operands=[[]]), "non-empty list of rows"),
    "empty row": (compute_body(operands=[[[]]]), "row 1 must be a non-empty list"),
    "no operands": (compute_body(operands=[]), "at least 1"),
    "ragged rows": (compute_body(operands=[[[1, 2], [3]]]), "rows have different lengths"),
    "string entry": (compute_body(operands=[[[1, "2"], [3, 4]]]), "row 1, column 2: not a number"),
    "boolean entry": (compute_body(operands=[[[True]]]), "not a number"),
    "null entry": (compute_body(operands=[[[None]]]), "not a number"),
    "object entry": (compute_body(operands=[[[{"x": 1}]]]), "not a number"),
    "matrix is a string": (compute_body(operands=["1 2; 3 4"]), "non-empty list of rows"),
    "11 rows": (compute_body(operands=[[[1]] * 11]), "limited to 10x10"),
    "11 columns": (compute_body(operands=[[[1] * 11]]), "limited to 10x10"),
    "sum shapes differ": (compute_body("sum", [A2, [[1, 2, 3]]]), "same shape"),
    "product shapes do not chain": (compute_body("product", [[[1, 2, 3]], A2]), "as many columns in A as rows in B"),
    "matvec vector too short": (compute_body("matvec", [A2, [1, 2, 3]]), "v with 2 entries"),
    "missing second operand": (compute_body("sum", [A2]), "takes 2 operand(s), got 1"),
    "extra operand": (compute_body("transpose", [A2, A2]), "takes 1 operand(s), got 2"),
    "three operands": (compute_body("sum", [A2, A2, A2]), "at most 2"),
    "inverse of non-square": (compute_body("inverse", [[[1, 2, 3], [4, 5, 6]]]), "needs a square matrix"),
    "eigenvalues of non-square": (compute_body("eigenvalues", [[[1, 2, 3], [4, 5, 6]]]), "needs a square matrix"),
    "eigenvalues of non-symmetric": (compute_body("eigenvalues", [A2]), "the model expects a symmetric matrix"),
    "eigenvectors of non-symmetric": (compute_body("eigenvectors", [A2]), "the model expects a symmetric matrix"),
    "unknown operation": (compute_body("determinant"), "operation: Input should be 'transpose'"),
    "operation is a number": (compute_body(7), "operation"),
    "missing operation": ({"operands": [A2]}, "operation: Field required"),
    "operands is an object": (compute_body(operands={"a": A2}), "operands: Input should be a valid list"),
    "beam is a string": (compute_body(beam="2"), "beam: Input should be a valid integer"),
    "beam is a boolean": (compute_body(beam=True), "beam: Input should be a valid integer"),
    "beam is fractional": (compute_body(beam=1.5), "beam: Input should be a valid integer"),
    "beam too wide": (compute_body(beam=9), "beam: Input should be less than or equal to 8"),
    "beam zero": (compute_body(beam=0), "beam: Input should be greater than or equal to 1"),
    "unknown field": (compute_body(colour="red"), "colour: Extra inputs are not permitted"),
    "body is a list": ([A2], "expected a JSON object"),
    "body is a number": (5, "expected a JSON object"),
}


@pytest.mark.parametrize("body, phrase", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_compute_body(client: TestClient, body: object, phrase: str) -> None:
    response = client.post("/api/compute", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and phrase in detail


RAW_BODIES = {
    "NaN literal": ('{"operation": "transpose", "operands": [[[NaN]]]}', "NaN is not a JSON number"),
    "Infinity literal": ('{"operation": "transpose", "operands": [[[Infinity]]]}', "Infinity is not a JSON number"),
    "-Infinity literal": ('{"operation": "transpose", "operands": [[[-Infinity]]]}', "-Infinity is not a JSON"),
    "overflowing number": ('{"operation": "transpose", "operands": [[[1e999]]]}', "1e999 is too large"),
    "huge integer": ('{"operation": "transpose", "operands": [[[' + "9" * 400 + "]]]}", "too large"),
    "deeply nested": ('{"operation": "transpose", "operands": ' + "[" * 5000 + "]" * 5000 + "}", "nested deeper"),
    "syntax error": ('{"operation": "transpose", "operands": [[[1,]]]}', "invalid JSON"),
    "truncated": ('{"operation": "transpose"', "invalid JSON"),
    "empty body": ("", "Field required"),
    "not UTF-8": (b'{"operation": "\xff"}', "not UTF-8"),
}


@pytest.mark.parametrize("content, phrase", RAW_BODIES.values(), ids=RAW_BODIES.keys())
def test_bad_raw_json(client: TestClient, content: str | bytes, phrase: str) -> None:
    response = client.post("/api/compute", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert phrase in response.json()["detail"]


def test_wrong_content_type(client: TestClient) -> None:
    response = client.post("/api/compute", content=json.dumps(compute_body()), headers={"Content-Type": "text/plain"})
    assert response.status_code == 422
    assert "application/json" in response.json()["detail"]


def test_body_over_64_kb_is_refused(client: TestClient) -> None:
    big = compute_body(operands=[[[1.0] * 10] * 10], padding="x" * 70_000)
    response = client.post("/api/compute", json=big)
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json()["detail"]


def test_streamed_body_over_64_kb_is_refused(client: TestClient) -> None:
    def chunks():
        yield b'{"operation": "transpose", "operands": [[[1]]], "padding": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    response = client.post("/api/compute", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_nested_comment_body_is_refused(client: TestClient) -> None:
    response = client.post("/api/comments", content='{"text": ' + "[" * 100 + "]" * 100 + "}",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422


BAD_COMMENTS = {
    "empty": ({"text": ""}, "the comment is empty"),
    "blank": ({"text": "   \n\t "}, "the comment is empty"),
    "101 characters": ({"text": "x" * 101}, "limited to 100 characters, got 101"),
    "101 Chinese characters": ({"text": "字" * 101}, "limited to 100 characters, got 101"),
    "NUL character": ({"text": "a\u0000b"}, "control characters"),
    "lone surrogate": ({"text": "\ud800"}, "control characters"),
    "number": ({"text": 5}, "text: Input should be a valid string"),
    "missing": ({}, "text: Field required"),
    "extra field": ({"text": "hi", "name": "x"}, "name: Extra inputs are not permitted"),
}


@pytest.mark.parametrize("body, phrase", BAD_COMMENTS.values(), ids=BAD_COMMENTS.keys())
def test_bad_comment(client: TestClient, body: dict, phrase: str) -> None:
    response = client.post("/api/comments", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert phrase in response.json()["detail"]
    assert client.get("/api/comments").json() == []


def test_comment_limit_counts_characters_after_trimming(client: TestClient) -> None:
    assert client.post("/api/comments", json={"text": "  " + "y" * 100 + "  "}).status_code == 201


def test_bad_comment_listing_limit(client: TestClient) -> None:
    assert client.get("/api/comments", params={"limit": 0}).status_code == 422
    assert client.get("/api/comments", params={"limit": "many"}).status_code == 422
