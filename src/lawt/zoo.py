"""Shipped models: a folder per operation with ``model.safetensors`` and ``config.json``.

``config.json`` carries the operation, encoding, architecture, sizes served, training record, the
measured evaluation and the SHA-256 of the weights, which :func:`load_model` verifies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from lawt.data import parse_sizes
from lawt.encodings import Codec, make_codec
from lawt.model import ModelConfig, Seq2Seq
from lawt.ops import Operation, get_operation
from lawt.ops.base import Dims

ZOO_DIR = Path(__file__).parent / "zoo"
WEIGHTS, CONFIG = "model.safetensors", "config.json"
MAX_WEIGHTS_BYTES = 10_000_000  # per shipped model: the repository carries every one


class ModelLoadError(RuntimeError):
    """A shipped model that cannot be used; the message names the file and the reason."""


@dataclass
class LoadedModel:
    """A model ready to answer, with its card."""

    model: Seq2Seq
    codec: Codec
    op: Operation
    card: dict
    path: Path

    @property
    def sizes(self) -> list[Dims]:
        return [self.op.parse_label(s) for s in self.card["sizes"]]

    @property
    def distribution(self) -> str:
        """The test distribution the model was trained on (older cards name none: the operation's first)."""
        return self.card.get("distribution") or self.op.distributions[0]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: Seq2Seq, card: dict, folder: Path, half: bool = True) -> None:
    """Write weights (fp16 by default) and the card with the weights' checksum."""
    folder.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if half else torch.float32
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    card = {**card, "architecture": model.cfg.to_dict(), "parameters": model.num_parameters(),
            "weights_dtype": str(dtype).removeprefix("torch."), "sha256": sha256(folder / WEIGHTS)}
    (folder / CONFIG).write_text(json.dumps(card, indent=2) + "\n")


def read_card(folder: Path) -> dict:
    path = folder / CONFIG
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: unreadable ({exc})") from None
    for key in ("operation", "encoding", "architecture", "sizes", "sha256"):
        if key not in card:
            raise ModelLoadError(f"{path}: no {key!r} entry")
    return card


def main_table(card: dict) -> dict | None:
    """The card's evaluation on its training distribution (the first test set), or None if not evaluated."""
    return next(iter((card.get("evaluation") or {}).get("distributions", {}).values()), None)


def load_model(folder: Path) -> LoadedModel:
    """Load and verify a shipped model, or raise :class:`ModelLoadError` naming the bad file."""
    card = read_card(folder)
    weights = folder / WEIGHTS
    if not weights.exists():
        raise ModelLoadError(f"{weights}: missing")
    actual = sha256(weights)
    if actual != card["sha256"]:
        raise ModelLoadError(f"{weights}: checksum mismatch (expected {card['sha256'][:12]}…, got {actual[:12]}…)")
    try:
        state = load_file(str(weights))
        op, codec = get_operation(card["operation"], card.get("scratchpad", "")), make_codec(card["encoding"])
        op.check_codec(codec)
        model = Seq2Seq(ModelConfig(**card["architecture"]))
        model.load_state_dict({k: v.float() for k, v in state.items()})
    except Exception as exc:  # any failure here means the folder is unusable; say which and why
        raise ModelLoadError(f"{weights}: cannot load ({exc})") from None
    model.eval()
    return LoadedModel(model=model, codec=codec, op=op, card=card, path=folder)


def model_argument(text: str) -> LoadedModel:
    """An argparse ``type`` for a model folder: the model loaded, or a usage error naming what is wrong."""
    try:
        return load_model(Path(text))
    except ModelLoadError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def asked_sizes(parser: argparse.ArgumentParser, loaded: LoadedModel, spec: str, served: bool = False) -> list[Dims]:
    """The sizes a ``--sizes`` flag names (as ``lawt eval --sizes``), or the model's own without one; a usage error
    for a size the operation does not have or, with ``served``, one the model does not serve."""
    try:
        sizes = parse_sizes(loaded.op, spec) if spec else loaded.sizes
    except ValueError as exc:
        parser.error(str(exc))
    unserved = [loaded.op.label(d) for d in sizes if d not in loaded.sizes]
    if served and unserved:
        parser.error(f"sizes the model does not serve: {', '.join(unserved)}")
    return sizes


def discover(root: Path = ZOO_DIR) -> dict[str, LoadedModel | ModelLoadError]:
    """Every model folder under ``root`` keyed by operation: a loaded model or the reason it failed."""
    found: dict[str, LoadedModel | ModelLoadError] = {}
    if not root.is_dir():
        return found
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            loaded = load_model(folder)
            found[loaded.op.name] = loaded
        except ModelLoadError as exc:
            found[folder.name] = exc
    return found
