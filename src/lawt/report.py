"""MODELS.md: every shipped model's card, accuracy per size, and learning curves against CPU time."""

from __future__ import annotations

from pathlib import Path

from lawt.bar import bar_met, current_check, standard_error, under_bar
from lawt.curves import curve_from_json, describe, project, started_operation
from lawt.model import ModelConfig
from lawt.ops import OPERATIONS
from lawt.ops.base import TYPED
from lawt.predict import tolerance_key
from lawt.recipes import Recipe, recipe_chain
from lawt.zoo import ZOO_DIR, ModelLoadError, main_table, read_card

TOLERANCES = ("5%", "2%", "1%", "0.5%")


def _scratchpad(card: dict) -> list[str]:
    """The card's scratchpad, named for the table (none for a model that writes its answer alone)."""
    return [f"{card['scratchpad']} scratchpad"] if card.get("scratchpad") else []


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _size_table(table: dict) -> list[str]:
    """Accuracy per size at each tolerance, and for the inverse the share of right *invertible?* verdicts."""
    verdicts = all("invertibility" in row for row in table["per_size"].values())
    columns = [*TOLERANCES, *(["invertible? right"] if verdicts else [])]
    lines = ["| size | problems | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for size, row in table["per_size"].items():
        cells = [_percent(row[t]) for t in TOLERANCES] + ([_percent(row["invertibility"])] if verdicts else [])
        lines.append(f"| {size} | {row['count']} | " + " | ".join(cells) + " |")
    return lines


def _bar_lines(name: str, table: dict) -> list[str]:
    """Whether the card's main test meets the operation's bar, naming the sizes under it (or not served)."""
    op = OPERATIONS[name]
    if op.bar is None:
        return []
    key, rows = tolerance_key(op.bar.tolerance), table["per_size"]
    barred = [op.label(dims) for dims in op.bar_sizes()]
    under = [f"{size} {_percent(rows[size][key])}" for size in barred
             if size in rows and rows[size][key] < op.bar.share]
    unserved = [size for size in barred if size not in rows]
    head = f"**Bar** ({op.bar.describe()}, {len(barred)} sizes): "
    if not under and not unserved:
        return [head + "every one of them at or over it on this test.", ""]
    return [head + f"{len(under) + len(unserved)} under it on this test"
            + (f" — {', '.join(under)} %" if under else "")
            + (f"; {len(unserved)} not served by the model" if unserved else "") + ".", ""]


def _bar_check_lines(card: dict) -> list[str]:
    """The bar measured on problems of each size's own (``lawt bar --record``), if measured on these weights."""
    check = current_check(card)
    if check is None:
        return []
    n, under, unserved = check["problems_per_size"], under_bar(check), check["unserved"]
    head = (f"Measured apart on {n:,} problems a size (`lawt bar`, seed {check['seed']}; a standard error of about "
            f"{100 * standard_error(check['share'], n):.1f} points at the bar): ")
    if bar_met(check):
        return [head + f"all {len(check['per_size'])} sizes at or over it — **bar met**.", ""]
    return [head + f"{len(under) + len(unserved)} under it"
            + (" — " + ", ".join(f"{size} {_percent(rate)}" for size, rate in under.items()) + " %" if under else "")
            + (f"; not served: {', '.join(unserved)}" if unserved else "") + ".", ""]


def _curve_lines(training: dict) -> list[str]:
    """The training run's periodic evaluations and the trends fitted to them, solved for 90 % at 5 %."""
    curve = curve_from_json(training.get("curve", []))
    if not curve:
        return []
    problems = training.get("recipe", {}).get("eval_problems", "a few hundred")
    lines = [f"Learning curve of the training run ({len(curve)} periodic evaluations on {problems} problems each, "
             "so a few points are noise):", "",
             "| step | examples | CPU-hours | " + " | ".join(TOLERANCES) + " |",
             "|---|---|---|" + "---|" * len(TOLERANCES)]
    for p in curve:
        lines.append(f"| {p.step} | {p.examples:,} | {p.cpu_hours:.3f} | "
                     + " | ".join(_percent(p.accuracy.get(t)) for t in TOLERANCES) + " |")
    return [*lines, "", *_other_start(training), describe(project(curve)) + ".", ""]


def _calibration_lines(rows: list[dict]) -> list[str]:
    """How often the test answers in each range of the model's confidence a number were right."""
    if not rows:
        return []
    lines = ["Its confidence a number (exp(log p / N), N the numbers in the answer) against how often those answers "
             "were right, on the same problems:", "",
             "| confidence a number | answers | " + " | ".join(TOLERANCES) + " |",
             "|---|---|" + "---|" * len(TOLERANCES)]
    for row in rows:
        lines.append(f"| {100 * row['from']:g}–{100 * row['to']:g} % | {row['count']:,} | "
                     + " | ".join(_percent(row[t]) for t in TOLERANCES) + " |")
    return [*lines, ""]


def _history_lines(history: list[dict]) -> list[str]:
    """Every candidate measured for the operation's place in the zoo, oldest first, and whether it shipped."""
    if not history:
        return []
    verdict = any("invertible?" in h for h in history)
    at_bar = any("bar_gain" in h for h in history)
    lines = ["Every candidate measured for this place in the zoo (the score averages each size's accuracy over the "
             "four tolerances, unserved sizes counting 0). A candidate with a gain was measured beside the shipped "
             "model on the same problems and shipped only if ahead by more than two standard errors; those without "
             "one shipped on any higher score, the earlier rule. Since typed problems were measured too, a candidate "
             "ships when ahead so on the main or the typed test set and behind so on neither"
             + (" — nor, since the bar is weighed too, behind so at the bar: in the shortfall of its sizes' pass "
                "rates below it (a cut is a gain; entries marked *pass rate*, from before it, measured the mean pass "
                "rate of the bar's sizes instead)" if at_bar else "") + ":", "",
             "| CPU-hours | examples | " + " | ".join(TOLERANCES) + (" | invertible? |" if verdict else " |")
             + " score | gain over the shipped model | gain on typed problems |"
             + (" gain at the bar |" if at_bar else "") + " shipped |",
             "|---|---|" + "---|" * len(TOLERANCES) + ("---|" if verdict else "") + "---|---|---|"
             + ("---|" if at_bar else "") + "---|"]
    for h in history:
        hours = "–" if h.get("cpu_seconds") is None else f"{h['cpu_seconds'] / 3600:.2f}"
        examples = "–" if h.get("examples") is None else f"{h['examples']:,}"
        gains = [_gain(h, prefix) for prefix in ("", "typed_", *(["bar_"] if at_bar else []))]
        lines.append(f"| {hours} | {examples} | " + " | ".join(_percent(h["overall"].get(t)) for t in TOLERANCES)
                     + (f" | {_percent(h.get('invertible?'))}" if verdict else "")
                     + f" | {h['score']:.4f} | " + " | ".join(gains) + f" | {_shipped(h)} |")
    return [*lines, ""]


def _gain(entry: dict, prefix: str) -> str:
    """A paired gain of the history (``gain``, ``typed_gain``, ``bar_gain``) ± its standard error, or –."""
    gain = entry.get(f"{prefix}gain")
    if gain is None:
        return "–"
    older = prefix == "bar_" and "bar_measure" not in entry
    return f"{gain:+.4f} ± {entry[f'{prefix}standard_error']:.4f}" + (" (*pass rate*)" if older else "")


def _shipped(entry: dict) -> str:
    """Whether a candidate shipped, and whether by the rule or forced (``lawt ship --force``) against it."""
    return ("yes, forced" if entry.get("forced") else "yes") if entry["shipped"] else "no"


def _other_start(training: dict) -> list[str]:
    """A line for a run that started from another operation's model, whose curve the table leaves out."""
    start, own = training.get("started_from") or {}, training.get("recipe", {}).get("operation", "")
    other = started_operation(start, own)
    if other == own:
        return []
    return [f"The run started from the {other} model ({start.get('steps', 0):,} steps, "
            f"{start.get('examples', 0):,} examples, {start.get('cpu_seconds', 0.0) / 3600:.2f} CPU-hours): that "
            f"training comes first in the steps, examples and CPU-hours above; its curve measured {other}, so it "
            "is not shown.", ""]


def plot_curves(cards: dict[str, dict], path: Path) -> None:
    """Accuracy at 5 % and at 1 % against training CPU-hours: each shipped model's training run as a line
    (its periodic evaluations), each 10,000-problem measurement of a candidate as a marker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    for ax, tolerance in zip(axes, ("5%", "1%"), strict=True):
        for index, (name, card) in enumerate(cards.items()):
            color = f"C{index % 10}"
            curve = curve_from_json(card.get("training", {}).get("curve", []))
            if curve:
                ax.plot([p.cpu_hours for p in curve], [100 * p.accuracy[tolerance] for p in curve], color=color,
                        linewidth=1, alpha=0.8)
            points = [h for h in card.get("history", []) if h.get("cpu_seconds") is not None]
            ax.plot([h["cpu_seconds"] / 3600 for h in points], [100 * h["overall"][tolerance] for h in points],
                    marker="o", linestyle="none", color=color, label=name)
        ax.set_title(f"accuracy at {tolerance}")
        ax.set_xlabel("training CPU-hours")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy on the model's sizes (%)")
    axes[0].set_ylim(-2, 102)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_models_md(root: Path = ZOO_DIR, out: Path = Path("MODELS.md")) -> None:
    """Write the zoo report and its learning-curve plot (``models.png`` beside it)."""
    cards: dict[str, dict] = {}
    missing: dict[str, str] = {}
    for name in OPERATIONS:
        try:
            cards[name] = read_card(root / name)
        except ModelLoadError as exc:
            missing[name] = str(exc)
    plot = out.with_name("models.png")
    plot_curves(cards, plot)
    lines = ["# Shipped models", "",
             "Generated by `lawt models --markdown MODELS.md` from the cards in `src/lawt/zoo/`. Accuracy is measured "
             "on seeded test problems (10,000 per model, split evenly over its sizes) with the paper's metric; "
             "see `docs/metric.md`. As in the calculator, each operand is read scaled by the power of ten that "
             "brings its largest entry into [1, 10], and the answer scaled back (`docs/encodings.md`).", "",
             "| operation | encoding | layers (enc/dec) | width | parameters | sizes | examples | CPU-hours | "
             + " | ".join(TOLERANCES) + " | typed, 5 % |",
             "|---|---|---|---|---|---|---|---|" + "---|" * (len(TOLERANCES) + 1)]
    for name, card in cards.items():
        arch, training = card["architecture"], card.get("training", {})
        main = main_table(card)
        overall = main["overall"] if main else {}
        typed = (card.get("evaluation") or {}).get("distributions", {}).get(TYPED, {}).get("overall", {})
        lines.append(
            f"| {name} | {' + '.join([card['encoding'], *ModelConfig(**arch).features(), *_scratchpad(card)])} | "
            f"{arch['enc_layers']}/{arch['dec_layers']} | {arch['d_model']} | "
            f"{card.get('parameters', 0):,} | {card['sizes'][0]}..{card['sizes'][-1]} ({len(card['sizes'])}) | "
            f"{training.get('examples', 0):,} | {training.get('cpu_seconds', 0) / 3600:.2f} | "
            + " | ".join(_percent(overall.get(t)) for t in TOLERANCES) + f" | {_percent(typed.get('5%'))} |")
    for name, reason in missing.items():
        lines.append(f"| {name} | – | – | – | – | none | – | – | " + " | ".join("–" for _ in TOLERANCES)
                     + f" | – |  <!-- {reason} -->")
    lines += ["", "*typed*: the same models on operands as people type them — whole numbers in −10..10, up to half "
              "of them zeros, half the problems with no negative entry (`lawt eval --distributions typed`); the "
              "inverse has its own integer and singular test sets instead.", "",
              f"![accuracy against training CPU-hours]({plot.name})", ""]
    for name, card in cards.items():
        evaluation = card.get("evaluation") or {}
        lines += [f"## {name}", ""]
        lines += _curve_lines(card.get("training", {}))
        lines += _history_lines(card.get("history", []))
        if not evaluation:
            lines += ["Not evaluated.", ""]
            continue
        for dist, table in evaluation["distributions"].items():
            lines += [f"**{dist}** — {table['count']} problems: "
                      + ", ".join(f"{t} {_percent(table['overall'][t])} %" for t in TOLERANCES), ""]
            if "invertibility" in table and table["invertibility"]["count"] > table["near_singular"]["count"]:
                verdict = table["invertibility"]
                lines += [f"Invertible? verdict right in {_percent(verdict['accuracy'])} % of {verdict['count']} "
                          "problems.", ""]
            if dist == next(iter(evaluation["distributions"])):
                lines += [*_bar_lines(name, table), *_bar_check_lines(card), *_size_table(table), "",
                          *_calibration_lines(table.get("calibration", []))]
        untrained = card.get("untrained_evaluation")
        if untrained:
            lines += [f"**Sizes it was not trained on** ({untrained['distribution']}; the calculator still runs the "
                      "model there and labels its answer):", "", *_size_table(untrained), ""]
    out.write_text("\n".join(lines) + "\n")


def write_reproduce_md(root: Path = ZOO_DIR, out: Path = Path("REPRODUCE.md")) -> None:
    """Write the command that retrains each shipped model and the accuracy it should reproduce."""
    lines = ["# Reproducing the shipped models", "",
             "Generated by `lawt models --markdown MODELS.md` from the cards in `src/lawt/zoo/`. Each model was "
             "trained on this project's 2-core CPU machine; `configs/<operation>.json` holds its exact recipe, "
             "including the step it was taken at (`stop_step`) and the learning-rate schedule (`steps`). Training is "
             "seeded: on the same PyTorch build and thread count the recipe gives the same weights, and otherwise "
             "the same accuracy within a point or two.", ""]
    for name in OPERATIONS:
        try:
            card = read_card(root / name)
        except ModelLoadError:
            lines += [f"## {name}", "", "No model shipped yet.", ""]
            continue
        recipe, training = card["training"]["recipe"], card["training"]
        main = main_table(card)
        expected = ", ".join(f"{t} {_percent(main['overall'][t])} %" for t in TOLERANCES) if main else "not evaluated"
        chain = recipe_chain(name, training)
        shown: set[str] = set()  # the focus-size lists this paragraph has written out
        commands = [f"lawt train --config configs/{r.name}.json --out-dir {r.out_dir}   # stops at step "
                    f"{r.settings['stop_step']}" + (", from the model above" if r.settings["init_from"] else "")
                    for r in chain]
        lines += [f"## {name}", "", "```bash", *commands,
                  f"lawt eval {chain[-1].out_dir}/last --problems 10000", "```", "",
                  f"Recipe: {recipe['encoding']} layout"
                  + (f" with a {recipe['scratchpad']} scratchpad" if recipe.get("scratchpad") else "")
                  + f", {recipe['enc_layers']}/{recipe['dec_layers']} layers, width "
                  f"{recipe['d_model']}, sizes `{recipe['sizes']}`, {training['examples']:,} examples "
                  f"({training['cpu_seconds'] / 3600:.2f} CPU-hours{_in_all(chain)}).{_starts(chain, shown)}"
                  f"{_stages(recipe, shown)} Expected: {expected}.", ""]
    out.write_text("\n".join(lines) + "\n")


def _in_all(chain: list[Recipe]) -> str:
    return f" in all, over {len(chain)} runs" if len(chain) > 1 else ""


def _starts(chain: list[Recipe], shown: set[str]) -> str:
    """For a model trained from another model's weights, how each model before it was trained, from the nearest
    back to the first."""
    operation = chain[-1].settings["operation"]
    parts = [f" {'It starts from' if k == 0 else 'That model was trained from'} the weights of the model of "
             f"`configs/{r.name}.json` ("
             + (f"the {r.settings['operation']} model, " if r.settings["operation"] != operation else "")
             + f"{r.settings['stop_step']:,} steps, lr {r.settings['lr']:g}, weight decay "
             f"{r.settings['weight_decay']:g}).{_stages(r.settings, shown)}"
             for k, r in enumerate(reversed(chain[:-1]))]
    if not parts:
        return ""
    own = chain[-1].settings
    zero = " It trains only the input embedding rows of a zero (`zero_rows`)." if own.get("zero_rows") else ""
    return "".join(parts) + (f" This run: {own['stop_step']:,} steps, lr {own['lr']:g} after "
                             f"{own['warmup_steps']:,} warm-up steps, weight decay {own['weight_decay']:g}.{zero}")


def _drawn_more(schedule: dict, shown: set[str], hard: str) -> str:
    """The sizes a schedule drew more often, the shares of typed and hard batches, and whether it trained a
    scratchpad's working alone, if any. A size list already in ``shown`` is referred back to rather than written
    out again; one written here is added to it. ``hard`` names the operation's hard distribution."""
    share, typed = schedule.get("focus_share", 0.0), schedule.get("typed_share", 0.0)
    hard_share = schedule.get("hard_share", 0.0)
    focus = schedule.get("focus_sizes", "")
    sizes = "the same sizes as above" if focus in shown else f"sizes `{focus}`"
    if share:
        shown.add(focus)
    parts = [f"{share:.0%} of batches from {sizes}" if share else "",
             f"{typed:.0%} of batches typed (whole numbers, zeros)" if typed else "",
             f"{hard_share:.0%} of batches `{hard}` (answers that nearly cancel)" if hard_share else "",
             "the working alone in the loss (`scratch_only`)" if schedule.get("scratch_only") else ""]
    return "; ".join(part for part in parts if part)


def _stages(recipe: dict, shown: set[str]) -> str:
    """How a recipe's schedule changed on resume (kept in its ``earlier`` field, replayed by ``lawt train``)."""
    # A stage recorded before weight decay was a schedule setting ran with the recipe's.
    stages = [{"weight_decay": recipe["weight_decay"], **s} for s in recipe.get("earlier", [])]
    stages.append({**recipe, "until_step": None})
    hard = OPERATIONS[recipe["operation"]].hard_distribution
    if len(stages) == 1:
        drawn = _drawn_more(recipe, shown, hard)
        return f" {drawn}." if drawn else ""
    decay_changed = len({s["weight_decay"] for s in stages}) > 1
    parts = []
    for s in stages:
        drawn = _drawn_more(s, shown, hard)
        parts.append(f"the schedule of {s['steps']:,} steps (curriculum {s['curriculum_steps']:,}, lr {s['lr']:g}"
                     + (f", weight decay {s['weight_decay']:g}" if decay_changed else "")
                     + (f", {drawn}" if drawn else "") + ")"
                     + (f" until step {s['until_step']:,}" if s["until_step"] else " to the end"))
    return " Trained in stages, which the config replays: " + ", then ".join(parts) + "."
