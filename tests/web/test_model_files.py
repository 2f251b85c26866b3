"""A missing or corrupted model file is reported as such; the exact solver never stands in; other models work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lawt.web import create_app
from lawt.zoo import CONFIG, WEIGHTS

PROBLEM = {"operation": "transpose", "operands": [[[1, 2], [3, 4]]]}


def zoo_with(tmp_path: Path, tiny_zoo: Path, damage) -> Path:
    root = tmp_path / "zoo"
    shutil.copytree(tiny_zoo / "transpose", root / "transpose")
    shutil.copytree(tiny_zoo / "transpose", root / "sum")  # a second, healthy folder
    card = (root / "sum" / CONFIG).read_text().replace('"operation": "transpose"', '"operation": "sum"')
    (root / "sum" / CONFIG).write_text(card)
    damage(root / "transpose")
    return root


def corrupt_weights(folder: Path) -> None:
    data = bytearray((folder / WEIGHTS).read_bytes())
    data[-10:] = b"\x00" * 10
    (folder / WEIGHTS).write_bytes(bytes(data))


DAMAGE = {
    "weights missing": (lambda folder: (folder / WEIGHTS).unlink(), "model.safetensors: missing"),
    "weights corrupted": (corrupt_weights, "checksum mismatch"),
    "card unreadable": (lambda folder: (folder / CONFIG).write_text("{not json"), "config.json: unreadable"),
}


@pytest.mark.parametrize("damage, reason", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_model_is_reported(tmp_path: Path, tiny_zoo: Path, database_url: str, damage, reason: str) -> None:
    root = zoo_with(tmp_path, tiny_zoo, damage)
    with TestClient(create_app(root, database_url)) as client:
        rows = {r["operation"]: r for r in client.get("/api/models").json()}
        answer = client.post("/api/compute", json=PROBLEM).json()
        other = client.post("/api/compute", json={"operation": "sum", "operands": [[[1, 2]], [[3, 4]]]}).json()
    assert rows["transpose"]["available"] is False
    assert reason in rows["transpose"]["reason"]
    assert str(tmp_path) not in rows["transpose"]["reason"]
    assert answer["provenance"] == "model-unavailable"
    assert answer["provenance_detail"].startswith("model unavailable: ") and reason in answer["provenance_detail"]
    assert answer["model_answer"] is None and answer["exact_answer"] == [[[1.0, 3.0], [2.0, 4.0]]]
    assert rows["sum"]["available"] is True
    assert other["provenance"] in ("transformer", "transformer-untrained-size")
