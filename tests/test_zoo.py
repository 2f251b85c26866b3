"""The shipped-model format: model.safetensors + config.json with a checksum, and how loading fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from lawt.encodings import make_codec
from lawt.model import Seq2Seq
from lawt.ops import OPERATIONS, get_operation
from lawt.train import TrainConfig
from lawt.zoo import (
    CONFIG,
    MAX_WEIGHTS_BYTES,
    WEIGHTS,
    ZOO_DIR,
    LoadedModel,
    ModelLoadError,
    discover,
    load_model,
    save_model,
    sha256,
)

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

CARD = {"operation": "transpose", "encoding": "entry", "sizes": ["2x2", "2x3"]}


def outputs(model: Seq2Seq, encoding: str = "entry") -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy outputs and scores of a model on a fixed batch of 2x3 transpositions."""
    codec, op = make_codec(encoding), get_operation("transpose")
    operands = op.generate(5, (2, 3), torch.Generator().manual_seed(0)).operands
    out = model.generate(codec.encode_operands(operands), None, codec.slots(op.answer_shapes((2, 3)), 5), codec,
                         beam=2)
    return out.fields, out.log_prob


@pytest.fixture
def saved(tmp_path: Path, make_model: Callable[..., Seq2Seq]) -> tuple[Seq2Seq, Path]:
    model = make_model("entry", 3)
    with torch.no_grad():  # move the weights away from their initial values so outputs are distinctive
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    save_model(model, CARD, tmp_path / "m", half=False)
    return model, tmp_path / "m"


def test_save_load_round_trip_gives_identical_outputs(saved: tuple[Seq2Seq, Path]) -> None:
    model, folder = saved
    loaded = load_model(folder)
    assert isinstance(loaded, LoadedModel)
    assert loaded.op.name == "transpose" and loaded.codec.name == "entry" and loaded.sizes == [(2, 2), (2, 3)]
    assert not loaded.model.training
    original, restored = model.state_dict(), loaded.model.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    fields, log_prob = outputs(model.eval())
    fields2, log_prob2 = outputs(loaded.model)
    assert torch.equal(fields, fields2) and torch.equal(log_prob, log_prob2)


def test_card_records_architecture_and_checksum(saved: tuple[Seq2Seq, Path]) -> None:
    model, folder = saved
    card = json.loads((folder / CONFIG).read_text())
    assert card["sha256"] == sha256(folder / WEIGHTS)
    assert card["weights_dtype"] == "float32"
    assert card["parameters"] == model.num_parameters()
    assert card["architecture"]["d_model"] == 32 and card["architecture"]["out_fields"] == model.cfg.out_fields
    assert {k: card[k] for k in CARD} == CARD


def test_half_precision_weights(tmp_path: Path, make_model: Callable[..., Seq2Seq]) -> None:
    model = make_model("P1000", 4)
    save_model(model, {**CARD, "encoding": "P1000"}, tmp_path / "h")
    card = json.loads((tmp_path / "h" / CONFIG).read_text())
    assert card["weights_dtype"] == "float16"
    loaded = load_model(tmp_path / "h").model.state_dict()
    for key, value in model.state_dict().items():
        assert loaded[key].dtype == torch.float32
        assert torch.equal(loaded[key], value.half().float())


def flip_bytes(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip-middle", "flip-header", "flip-last", "truncate", "append", "empty"])
def test_damaged_weights_are_refused_naming_the_file(saved: tuple[Seq2Seq, Path], damage: str) -> None:
    _, folder = saved
    weights = folder / WEIGHTS
    size = weights.stat().st_size
    if damage.startswith("flip"):
        flip_bytes(weights, {"flip-middle": size // 2, "flip-header": 10, "flip-last": size - 1}[damage])
    elif damage == "truncate":
        weights.write_bytes(weights.read_bytes()[: size - 100])
    elif damage == "append":
        weights.write_bytes(weights.read_bytes() + b"\0")
    else:
        weights.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="checksum mismatch") as info:
        load_model(folder)
    assert str(weights) in str(info.value)


def test_missing_files(saved: tuple[Seq2Seq, Path]) -> None:
    _, folder = saved
    (folder / WEIGHTS).unlink()
    with pytest.raises(ModelLoadError, match=f"{WEIGHTS}: missing") as info:
        load_model(folder)
    assert str(folder / WEIGHTS) in str(info.value)
    (folder / CONFIG).unlink()
    with pytest.raises(ModelLoadError, match=f"{CONFIG}: missing") as info:
        load_model(folder)
    assert str(folder / CONFIG) in str(info.value)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda card: "{not json", "unreadable"),
    (lambda card: json.dumps({k: v for k, v in card.items() if k != "sha256"}), "no 'sha256' entry"),
    (lambda card: json.dumps({k: v for k, v in card.items() if k != "architecture"}), "no 'architecture' entry"),
    (lambda card: json.dumps({k: v for k, v in card.items() if k != "operation"}), "no 'operation' entry"),
    (lambda card: json.dumps({**card, "operation": "determinant"}), "cannot load"),
    (lambda card: json.dumps({**card, "encoding": "P7"}), "cannot load"),
    (lambda card: json.dumps({**card, "architecture": {**card["architecture"], "d_model": 64}}), "cannot load"),
    (lambda card: json.dumps({**card, "architecture": {**card["architecture"], "bogus": 1}}), "cannot load"),
])
def test_bad_cards_are_refused(saved: tuple[Seq2Seq, Path], edit: Callable[[dict], str], message: str) -> None:
    _, folder = saved
    card = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_text(edit(card))
    with pytest.raises(ModelLoadError, match=message) as info:
        load_model(folder)
    assert str(folder) in str(info.value)


def test_an_upper_triangle_layout_for_an_operation_without_symmetric_inputs_is_refused(
        saved: tuple[Seq2Seq, Path]) -> None:
    _, folder = saved
    card = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_text(json.dumps({**card, "encoding": "entry-upper"}))  # the card says transpose
    with pytest.raises(ModelLoadError, match="reads only the upper triangle"):
        load_model(folder)


def test_garbage_with_a_matching_checksum_is_refused(saved: tuple[Seq2Seq, Path]) -> None:
    _, folder = saved
    (folder / WEIGHTS).write_bytes(b"not a safetensors file at all")
    card = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_text(json.dumps({**card, "sha256": sha256(folder / WEIGHTS)}))
    with pytest.raises(ModelLoadError, match="cannot load") as info:
        load_model(folder)
    assert str(folder / WEIGHTS) in str(info.value)


def test_discover_reports_each_folder(tmp_path: Path, saved: tuple[Seq2Seq, Path]) -> None:
    _, good = saved
    root = good.parent
    (root / "broken").mkdir()
    (root / "broken" / CONFIG).write_text("{}")
    (root / "stray-file.txt").write_text("ignored")
    found = discover(root)
    assert set(found) == {"transpose", "broken"}
    assert isinstance(found["transpose"], LoadedModel)
    assert isinstance(found["broken"], ModelLoadError) and "broken" in str(found["broken"])
    assert discover(tmp_path / "nowhere") == {}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_every_shipped_model_loads_and_its_recipe_parses(operation: str) -> None:
    """The zoo as committed: each operation's model loads (checksum, card, weights) and both its card's
    recipe and ``configs/<operation>.json`` are valid training settings for it."""
    loaded = load_model(ZOO_DIR / operation)
    assert loaded.op.name == operation
    assert (ZOO_DIR / operation / WEIGHTS).stat().st_size <= MAX_WEIGHTS_BYTES
    recipe = TrainConfig.from_dict(loaded.card["training"]["recipe"])
    assert recipe.operation == operation
    config = TrainConfig.from_dict(json.loads((CONFIGS / f"{operation}.json").read_text()))
    config.check()
    assert config.operation == operation
