"""The ``lawt`` command: train, eval, ship, compare, bar, models, curve, bench, solve, serve."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from lawt.allocator import keep_freed_memory
from lawt.matrix_text import MatrixFormatError, format_matrix, parse_matrix
from lawt.ops import OPERATIONS, OperandError
from lawt.zoo import ZOO_DIR, ModelLoadError

if TYPE_CHECKING:
    import torch

    from lawt.curves import CurvePoint


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from lawt.train import TrainConfig

    parser.add_argument("--config", type=Path, help="JSON file of settings (flags override it)")
    for f in fields(TrainConfig):
        if f.default is MISSING:
            continue  # earlier stages come from a config file or a resumed run, not from flags
        default = f.default
        kind = parse_boolean if isinstance(default, bool) else type(default)
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=None,
                            help=f"default: {default!r}")


def parse_boolean(text: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no) for boolean settings."""
    value = text.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value in ("true", "1", "yes")


def refused(exc: Exception) -> int:
    """A setting or input that cannot be used: one line on stderr, exit status 2."""
    print(f"error: {exc}", file=sys.stderr)
    return 2


def cmd_train(args: argparse.Namespace) -> int:
    from lawt.train import TrainConfig, train

    settings = json.loads(args.config.read_text()) if args.config else {}
    flags = {f.name: getattr(args, f.name, None) for f in fields(TrainConfig)}
    settings.update({name: value for name, value in flags.items() if value is not None})
    try:
        cfg = TrainConfig.from_dict(settings)
        cfg.check()
    except ValueError as exc:
        return refused(exc)
    out = train(cfg)
    print(f"run saved in {out}")
    return 0


def default_report(model: Path, operation: str) -> Path:
    """Where ``lawt eval`` writes without ``--out``: beside the model, unless it is a shipped one, whose card and
    plot stay as shipped (the report then goes to ``<operation>-evaluation.json`` here)."""
    from lawt import zoo

    if model.resolve().is_relative_to(zoo.ZOO_DIR.resolve()):
        return Path(f"{operation}-evaluation.json")
    return model / "evaluation.json"


def cmd_eval(args: argparse.Namespace) -> int:
    from lawt.data import parse_sizes
    from lawt.evaluate import evaluate, write_report
    from lawt.zoo import load_model

    loaded = load_model(args.model)
    op = loaded.op
    try:
        sizes = parse_sizes(op, args.sizes) if args.sizes else loaded.sizes
    except ValueError as exc:
        return refused(exc)
    trained_on = loaded.distribution
    if args.distributions == "all":
        names = [trained_on, *(d for d in op.all_distributions() if d != trained_on)]
    else:
        names = args.distributions.split(",") if args.distributions else op.report_distributions(trained_on)
    report = evaluate(loaded.model, loaded.codec, op, sizes, total=args.problems, seed=args.seed,
                      distributions=names)
    out = args.out or default_report(args.model, op.name)
    write_report(report, out, out.with_suffix(".png"))
    for name, table in report["distributions"].items():
        overall = ", ".join(f"{k} {100 * v:.1f}%" for k, v in table["overall"].items())
        print(f"{op.name} [{name}] on {table['count']} problems: {overall}")
        if "invertibility" in table:
            print(f"  invertible? right {100 * table['invertibility']['accuracy']:.1f}%")
    print(f"report: {out} and {out.with_suffix('.png')}")
    return 0


def cmd_ship(args: argparse.Namespace) -> int:
    from lawt.ship import ship

    only = [name.strip() for name in args.only.split(",") if name.strip()]
    try:
        return 0 if ship(args.model, args.to, problems=args.problems, force=args.force,
                         untrained_problems=args.untrained_problems, only=only) else 1
    except ValueError as exc:
        return refused(exc)


def cmd_compare(args: argparse.Namespace) -> int:
    from lawt.evaluate import accuracy_table
    from lawt.ship import BAR, MARGIN, compare_marks, shipped_marks
    from lawt.zoo import load_model

    candidate, shipped = load_model(args.candidate), load_model(args.shipped)
    if candidate.op.name != shipped.op.name:
        print(f"error: {args.candidate} is a {candidate.op.name} model and {args.shipped} a {shipped.op.name} "
              "model; compare two models of one operation", file=sys.stderr)
        return 2
    distribution = args.distribution or candidate.distribution
    try:
        candidate.op.check_distribution(distribution)
    except ValueError as exc:
        return refused(exc)
    marks: dict[str, torch.Tensor] = {}
    accuracy_table(candidate.model, candidate.codec, candidate.op, candidate.sizes, args.problems, distribution,
                   marks=marks)
    theirs = shipped_marks(shipped, candidate.sizes, args.problems, distribution)
    comparisons = compare_marks(candidate.op, {distribution: marks}, {distribution: theirs})
    result = comparisons[distribution]
    print(f"{'size':>8}  {'first':>6}  {'second':>6}   (mean score: accuracy over the four tolerances"
          + (" and the verdict)" if candidate.op.name == "inverse" else ")"))
    for label, (ours, theirs_score) in result.per_size.items():
        print(f"{label:>8}  {ours:6.3f}  {theirs_score:6.3f}")
    verdict = "better beyond the noise" if result.better else "not better beyond the noise"
    print(f"gain of the first over the second: {result.gain:+.4f} ± {result.standard_error:.4f} (standard error, "
          f"paired on {args.problems} {distribution} problems); {verdict} ({MARGIN:g} standard errors)")
    if BAR in comparisons:
        at_bar = comparisons[BAR]
        print(f"at the bar ({candidate.op.bar.describe()}): {at_bar.gain:+.4f} ± {at_bar.standard_error:.4f} "
              "in the shortfall of its sizes' pass rates below it (a cut is a gain)")
    return 0 if result.better else 1


def cmd_bar(args: argparse.Namespace) -> int:
    from lawt.bar import BAR_CHECK, BAR_SEED, bar_met, check_bar, record_check, standard_error, under_bar
    from lawt.zoo import load_model

    loaded = load_model(args.model)
    seed = BAR_SEED if args.seed is None else args.seed
    try:
        check = check_bar(loaded, args.problems, seed)
    except ValueError as exc:
        return refused(exc)
    under, unserved, met = under_bar(check), check["unserved"], bar_met(check)
    if args.json:
        print(json.dumps({**check, "under": under, "met": met}))
    else:
        measured = len(check["per_size"])
        print(f"{loaded.op.name}: {loaded.op.bar.describe()}; {measured} sizes on {args.problems:,} problems each "
              f"(seed {seed}): {measured - len(under)} at or over it")
        for label, rate in under.items():
            print(f"  under: {label:>8} {100 * rate:5.1f} % ± {100 * standard_error(rate, args.problems):.1f}")
        if unserved:
            print(f"  not served: {', '.join(unserved)}")
        print("bar met" if met else "bar not met")
    if args.record:
        record_check(args.model, check)
        print(f"recorded as {BAR_CHECK} in {args.model / 'config.json'}", file=sys.stderr)
    return 0 if met else 1


def cmd_models(args: argparse.Namespace) -> int:
    from lawt.solver import Calculator, model_card

    if args.markdown:
        from lawt.report import write_models_md, write_reproduce_md

        write_models_md(args.root, args.markdown)
        write_reproduce_md(args.root, args.markdown.with_name("REPRODUCE.md"))
        print(f"wrote {args.markdown}, models.png and REPRODUCE.md")
        return 0
    calc = Calculator(root=args.root)
    rows = []
    for name in OPERATIONS:
        status = calc.status(name)
        if isinstance(status, str):
            rows.append({"operation": name, "available": False, "reason": status})
        else:
            rows.append({"operation": name, "available": True, **model_card(status)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        if not row["available"]:
            print(f"{row['operation']:<16} unavailable: {row['reason']}")
            continue
        acc = row["accuracy"] or {}
        accuracy = " ".join(f"{k}:{100 * v:.1f}%" for k, v in acc.items()) or "not evaluated"
        print(f"{row['operation']:<16} {row['encoding']:<8} {row['encoder_layers']}/{row['decoder_layers']} layers "
              f"width {row['width']} {row['parameters']:,} params, sizes {_size_range(row['sizes'])}; {accuracy}")
    return 0


def _curve_of(source: Path, size: str | None = None) -> list[CurvePoint]:
    """The learning curve of a run folder (its metrics.jsonl), a model folder or a shipped operation's name
    (its card's training curve); with ``size``, that size's own curve, which only a run logs."""
    from lawt.curves import curve_from_json, read_curve
    from lawt.zoo import CONFIG, read_card

    if (source / "metrics.jsonl").exists():
        return read_curve(source, size=size)
    if size is not None:
        return []
    folder = source if source.exists() else ZOO_DIR / source.name
    if (folder / CONFIG).exists():
        return curve_from_json(read_card(folder).get("training", {}).get("curve", []))
    return []


def cmd_curve(args: argparse.Namespace) -> int:
    from lawt.curves import at_hours, curve_as_json, describe, project

    target = args.target / 100
    try:
        budgets = _budgets(args.at)
    except ValueError as exc:
        return refused(exc)
    results = {}
    for run in args.runs:
        curve = _curve_of(run, args.size)
        if not curve:
            where = (f"of {args.size} in {run} (a run's metrics.jsonl logs a size's own evaluations when it is a "
                     "focus size and --eval-focus-problems is set)" if args.size else
                     f"in {run} (read from a run's metrics.jsonl or a model card's training curve)")
            print(f"error: no evaluations {where}", file=sys.stderr)
            return 2
        if args.tolerance not in curve[0].accuracy:
            print(f"error: the evaluations in {run} have no {args.tolerance} (the verdict is the inverse's)",
                  file=sys.stderr)
            return 2
        results[str(run)] = (curve, project(curve, target, args.tolerance))
    if args.json:
        print(json.dumps({run: {"curve": curve_as_json(curve), "projection": asdict(projection),
                                **({"at": {str(h): at_hours(curve, h, args.tolerance) for h in budgets}}
                                   if budgets else {})}
                          for run, (curve, projection) in results.items()}))
        return 0
    if budgets:
        print(f"{args.tolerance} at equal CPU-hours (interpolated between evaluations; – outside a run's):")
        print(f"  {'CPU-h':>7}  " + "  ".join(str(run) for run in results))
        for h in budgets:
            cells = [at_hours(curve, h, args.tolerance) for curve, _ in results.values()]
            print(f"  {h:>7g}  " + "  ".join(f"{'–' if v is None else f'{100 * v:.1f}%':>{len(str(run))}}"
                                              for v, run in zip(cells, results, strict=True)))
        return 0
    for run, (curve, projection) in results.items():
        print(f"{run}")
        print(f"  {'step':>7} {'examples':>11} {'CPU-h':>7}  " + " ".join(f"{t:>6}" for t in curve[0].accuracy))
        for p in curve:
            print(f"  {p.step:>7} {p.examples:>11,} {p.cpu_hours:>7.3f}  "
                  + " ".join(f"{100 * v:>5.1f}%" for v in p.accuracy.values()))
        print(f"  {describe(projection)}")
    return 0


def _budgets(text: str) -> list[float]:
    """``--at``: comma-separated positive CPU-hours, or ValueError."""
    try:
        budgets = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        budgets = [-1.0]
    if any(not h > 0 for h in budgets):
        raise ValueError(f"--at takes positive CPU-hours separated by commas, like 0.5,1,2, not {text!r}")
    return budgets


def _size_range(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{labels[0]}..{labels[-1]} ({len(labels)} sizes)"


def cmd_bench(args: argparse.Namespace) -> int:
    from lawt.bench import run_benchmarks

    result = run_benchmarks(quick=args.quick)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<32} {value}")
    return 0


def _read_operands(args: argparse.Namespace, count: int) -> list[list[list[float]]]:
    texts = list(args.matrices)
    if not texts or texts == ["-"]:
        blocks = [b for b in sys.stdin.read().split("\n\n") if b.strip()]
        if not blocks:
            raise MatrixFormatError("no matrix given (pass it as an argument or on standard input)")
        texts = blocks if len(blocks) > 1 or count == 1 else blocks[0].split("|")
    matrices = [parse_matrix(t) for t in texts]
    if count == 2 and args.operation == "matvec" and len(matrices) == 2 and len(matrices[1]) == 1:
        matrices[1] = [[x] for x in matrices[1][0]]  # a row typed for v means the vector v
    return matrices


def cmd_solve(args: argparse.Namespace) -> int:
    from lawt.solver import Calculator

    op = OPERATIONS.get(args.operation)
    if op is None:
        print(f"error: unknown operation {args.operation!r}; choose from {', '.join(OPERATIONS)}", file=sys.stderr)
        return 2
    try:
        operands = _read_operands(args, op.n_operands)
        answer = Calculator(root=args.root).solve(op.name, operands, beam=args.beam)
    except (MatrixFormatError, OperandError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer.to_dict()))
        return 0
    print(f"{op.title}, size {answer.size}")
    print(f"provenance: {answer.provenance} — {answer.provenance_detail}")
    names = answer.part_names
    if answer.invertible is not None:
        inv = answer.invertible
        verdict = {True: "invertible", False: "not invertible", None: "no verdict"}[inv["model"]]
        print(f"model says: {verdict}; exact: {'invertible' if inv['exact'] else 'not invertible'} "
              f"(det {inv['determinant']:.4g}, condition number {inv['condition_number']})")
    for label, parts in (("model answer", answer.model_answer), ("exact answer", answer.exact_answer)):
        if parts is None:
            print(f"{label}: none")
            continue
        for name, part in zip(names if len(names) == len(parts) else [""] * len(parts), parts, strict=True):
            print(f"{label}{' — ' + name if name else ''}:\n{format_matrix(part)}")
    if answer.scratchpad:
        pad = answer.scratchpad
        for label, parts in (("model's working", pad["model"]), ("exact working", pad["exact"])):
            print(f"{label} — {pad['title']} (not judged):\n" + "\n".join(format_matrix(p) for p in parts))
    if answer.relative_error is not None or answer.passes:
        err = "n/a" if answer.relative_error is None else f"{answer.relative_error:.3g}"
        verdicts = ", ".join(f"{k} {'pass' if v else 'fail'}" for k, v in answer.passes.items())
        print(f"relative error: {err}; {verdicts}")
    if answer.confidence is not None:
        print(f"confidence: {answer.confidence_per_number:.3f} a number, {answer.confidence:.3g} the whole answer "
              f"(log-probability {answer.log_prob:.3f}); "
              f"decode {answer.decode_ms:.1f} ms, exact {answer.exact_ms:.2f} ms")
    if answer.calibration:
        c = answer.calibration
        print(f"of the model's {c['count']:,} {c['test_set']} test answers with a confidence a number in "
              f"[{c['from']:g}, {c['to']:g}), "
              f"{100 * c['accuracy']['5%']:.1f}% were right within 5% ({100 * c['accuracy']['1%']:.1f}% within 1%)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from lawt.web.server import run

    run(host=args.host, port=args.port, database_url=args.database_url, root=args.root)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lawt", description="Linear algebra with transformers")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model (resumes from the run folder's checkpoint)")
    _train_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="measure a model's accuracy at 5%%, 2%%, 1%%, 0.5%%")
    p.add_argument("model", type=Path, help="model folder (config.json + model.safetensors)")
    p.add_argument("--problems", type=int, default=10_000)
    p.add_argument("--sizes", default="", help="default: the sizes the model was trained on")
    p.add_argument("--distributions", default="", help="comma-separated, or 'all'")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--out", type=Path, help="JSON report, a PNG beside it (default: beside the model; for a "
                   "shipped model, <operation>-evaluation.json in the current folder)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bar", help="measure each size of the operation's bar on problems of its own: is it met?")
    p.add_argument("model", type=Path, help="model folder, e.g. src/lawt/zoo/product")
    p.add_argument("--problems", type=int, default=2000, help="problems per size (default 2,000)")
    p.add_argument("--seed", type=int, help="default: problems apart from the card's test set")
    p.add_argument("--record", action="store_true", help="write the result into the model's card (MODELS.md shows it)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bar)

    p = sub.add_parser("ship", help="evaluate a trained model and copy it into the zoo if it beats the shipped one")
    p.add_argument("model", type=Path)
    p.add_argument("--to", type=Path, help="destination folder (default: the zoo folder of its operation)")
    p.add_argument("--problems", type=int, default=10_000)
    p.add_argument("--untrained-problems", type=int, default=200,
                   help="problems per square size the model was not trained on, measured for its card (0: none)")
    p.add_argument("--force", action="store_true", help="ship even if not better")
    p.add_argument("--only", default="", metavar="TEST_SETS",
                   help="measuring the shipped model again: only these comma-separated test sets (e.g. typed), "
                        "the card's other measurements kept")
    p.set_defaults(func=cmd_ship)

    p = sub.add_parser("compare", help="measure two models of one operation on the same problems: is the first "
                       "better beyond the noise? (the test lawt ship applies)")
    p.add_argument("candidate", type=Path, help="model folder (model.safetensors + config.json)")
    p.add_argument("shipped", type=Path, help="the model folder to compare with, e.g. src/lawt/zoo/<operation>")
    p.add_argument("--problems", type=int, default=10_000, help="test problems, split evenly over the first's sizes")
    p.add_argument("--distribution", default="", help="test set (default: the first's training one), e.g. typed")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("models", help="list the shipped models and their measured accuracy")
    p.add_argument("--json", action="store_true")
    p.add_argument("--markdown", type=Path, help="write this Markdown report (and models.png beside it)")
    p.add_argument("--root", type=Path, default=ZOO_DIR)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("curve", help="a run's or model's learning curve and the CPU-hours its trend needs for a target")
    p.add_argument("runs", nargs="+", type=Path,
                   help="run folders (with metrics.jsonl), model folders or shipped operations' names")
    p.add_argument("--target", type=float, default=90.0, help="accuracy in percent (default 90)")
    p.add_argument("--tolerance", default="5%", choices=["5%", "2%", "1%", "0.5%", "verdict"],
                   help="or verdict: the inverse's right invertible? answers")
    p.add_argument("--at", default="", help="compare the runs at these CPU-hours, e.g. 0.5,1,2 (equal budgets)")
    p.add_argument("--size", help="one focus size's own curve, e.g. 1x5x1 (runs trained with --eval-focus-problems)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_curve)

    p = sub.add_parser("bench", help="measure generation, training and decoding speed")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="short measurements (for smoke tests)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("solve", help="answer one problem with the model and compare with the exact answer")
    p.add_argument("operation", help=", ".join(OPERATIONS))
    p.add_argument("matrices", nargs="*", help="'[[1,2],[3,4]]' or '1 2; 3 4'; '-' or none reads stdin")
    p.add_argument("--beam", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--root", type=Path, default=ZOO_DIR)
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("serve", help="run the web calculator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--database-url", default=None, help="SQLAlchemy URL (default: $LAWT_DATABASE_URL or ./lawt.db)")
    p.add_argument("--root", type=Path, default=ZOO_DIR)
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keep_freed_memory()
    try:
        return args.func(args)
    except ModelLoadError as exc:
        return refused(exc)
    except KeyboardInterrupt:
        return 130


def leave(code: int) -> NoReturn:
    """End the process with ``code``. A data-parallel process (torchrun sets WORLD_SIZE) leaves with ``os._exit``
    once its output is flushed: with every rank's work saved and the process group torn down together, the
    interpreter's own teardown has nothing left to do, and in gloo's C++ threads it now and then aborted a rank
    after a run had finished ("terminate called without an active exception", SIGABRT)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def run() -> NoReturn:
    """The ``lawt`` command."""
    leave(main())


if __name__ == "__main__":
    run()
