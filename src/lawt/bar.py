"""Whether a model meets its operation's bar, measured on enough problems a size to tell.

The card's test spreads 10,000 problems over every size (80 a size for the product), which cannot tell a
size at 94 % from one at 96 %. This measures each of the bar's sizes on problems of its own, drawn apart
from the card's test, and records the result in the card beside the weights' checksum it belongs to.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lawt.evaluate import accuracy_table
from lawt.predict import tolerance_key
from lawt.zoo import CONFIG, LoadedModel, read_card

BAR_CHECK = "bar_check"  # the card's key for the measurement
BAR_SEED = 4242  # problems apart from the card's test set (seeded by lawt.evaluate.EVAL_SEED)


def check_bar(loaded: LoadedModel, per_size: int, seed: int = BAR_SEED) -> dict:
    """Each of the bar's sizes the model serves, ``per_size`` problems of the operation's standard test data:
    the share right at the bar's tolerance. Sizes it does not serve are listed apart (they fail the bar). The
    weights' checksum is the card's, which :func:`~lawt.zoo.load_model` has verified against them."""
    op = loaded.op
    if op.bar is None:
        raise ValueError(f"{op.name} has no bar: only the elementary operations have one")
    if per_size < 1:
        raise ValueError(f"problems per size must be at least 1, not {per_size}")
    served = [dims for dims in op.bar_sizes() if dims in loaded.sizes]
    table = accuracy_table(loaded.model, loaded.codec, op, served, per_size * len(served), op.distributions[0],
                           seed) if served else {"per_size": {}}
    key = tolerance_key(op.bar.tolerance)
    return {"tolerance": op.bar.tolerance, "share": op.bar.share, "max_dim": op.bar.max_dim,
            "problems_per_size": per_size, "seed": seed, "sha256": loaded.card["sha256"],
            "per_size": {label: row[key] for label, row in table["per_size"].items()},
            "unserved": [op.label(dims) for dims in op.bar_sizes() if dims not in loaded.sizes]}


def under_bar(check: dict) -> dict[str, float]:
    """The measured sizes under the bar, with their pass rates, worst first."""
    under = {label: rate for label, rate in check["per_size"].items() if rate < check["share"]}
    return dict(sorted(under.items(), key=lambda item: item[1]))


def bar_met(check: dict) -> bool:
    """Whether every size of the bar was served and measured at or over it."""
    return not under_bar(check) and not check["unserved"]


def standard_error(rate: float, problems: int) -> float:
    """The binomial standard error of a pass rate measured on ``problems`` problems."""
    return math.sqrt(rate * (1 - rate) / problems)


def record_check(folder: Path, check: dict) -> None:
    """Write ``check`` into the card of the model in ``folder`` (the weights it was measured on)."""
    card = read_card(folder)
    (folder / CONFIG).write_text(json.dumps({**card, BAR_CHECK: check}, indent=2) + "\n")


def current_check(card: dict) -> dict | None:
    """The card's bar check if it was measured on the card's weights, else None (a stale one is ignored)."""
    check = card.get(BAR_CHECK)
    return check if check is not None and check.get("sha256") == card.get("sha256") else None
