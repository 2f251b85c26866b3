// The result panel: provenance, model and exact answers, error map, verdicts, beams, tokens and model card.
// Everything is written with textContent: nothing from the server is parsed as HTML.

import { fmt } from "./format.js";

const PROVENANCE = {
  transformer: ["ok", "Computed by the transformer"],
  "transformer-untrained-size": ["warn", "Computed by the transformer, on a size it was not trained on"],
  "model-output-invalid": ["warn", "The transformer answered, but its output does not decode to an answer"],
  "model-unavailable": ["bad", "No transformer answer; only the exact answer is shown"],
};
const VECTOR_PARTS = { eigenvectors: [1], svd: [0, 2] }; // columns defined up to sign
const ERROR_STEPS = [0.005, 0.01, 0.02, 0.05, 0.2]; // colour buckets e0..e5

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function matrixTable(matrix, caption, cellClass) {
  const table = element("table", "matrix");
  if (caption) table.append(element("caption", "", caption));
  const body = element("tbody");
  matrix.forEach((row, i) => {
    const tr = element("tr");
    row.forEach((x, j) => tr.append(element("td", cellClass ? cellClass(i, j) : "", fmt(x))));
    body.append(tr);
  });
  table.append(body);
  return table;
}

// Flip the model's columns to the exact answer's signs (eigen- and singular vectors have no sign of their own).
function alignSigns(model, exact) {
  const cols = exact[0].length;
  const signs = Array.from({ length: cols }, (_, j) =>
    model.reduce((s, row, i) => s + (row[j] ?? 0) * (exact[i][j] ?? 0), 0) < 0 ? -1 : 1,
  );
  return model.map((row) => row.map((x, j) => (x === null ? null : x * signs[j])));
}

function bucket(e) {
  const k = e === null ? -1 : ERROR_STEPS.findIndex((t) => e < t);
  return k === -1 ? 5 : k;
}

function errorMap(model, exact) {
  const values = exact.flat().filter((x) => x !== null);
  const scale = values.reduce((s, x) => s + Math.abs(x), 0) / Math.max(values.length, 1) || 1;
  const errors = model.map((row, i) =>
    row.map((x, j) => (x === null || exact[i][j] === null ? null : Math.abs(x - exact[i][j]) / scale)),
  );
  const table = element("table", "matrix errors");
  table.append(element("caption", "", "Error per entry"));
  const body = element("tbody");
  errors.forEach((row) => {
    const tr = element("tr");
    row.forEach((e) => tr.append(element("td", `e${bucket(e)}`, e === null ? "—" : `${fmt(100 * e)}%`)));
    body.append(tr);
  });
  table.append(body);
  return table;
}

function errorLegend() {
  const legend = element("p", "legend");
  legend.append(element("span", "", "Error relative to the mean size of the exact entries: "));
  ["< 0.5%", "< 1%", "< 2%", "< 5%", "< 20%", "≥ 20%"].forEach((label, k) => {
    legend.append(element("span", `swatch e${k}`, label));
  });
  return legend;
}

function renderProvenance(answer) {
  const node = document.getElementById("provenance");
  const [tone, title] = PROVENANCE[answer.provenance] || ["bad", answer.provenance];
  node.className = `provenance ${tone}`;
  node.replaceChildren(element("strong", "", title));
  const detail = answer.provenance_detail;
  if (detail && detail.toLowerCase() !== title.toLowerCase()) node.append(element("span", "", ` — ${detail}`));
}

function renderInvertible(answer) {
  const node = document.getElementById("invertible");
  node.hidden = !answer.invertible;
  if (!answer.invertible) return;
  const inv = answer.invertible;
  const says = { true: "invertible", false: "not invertible", null: "no verdict" }[String(inv.model)];
  node.replaceChildren(
    element("p", "", `The model says: ${says}.`),
    element(
      "p",
      "",
      `Exact: ${inv.exact ? "invertible" : "not invertible"} — determinant ${fmt(inv.determinant)}, ` +
        `condition number ${inv.condition_number === null ? "∞" : fmt(inv.condition_number)}.`,
    ),
  );
}

function missingModelText(answer) {
  if (answer.invertible?.model === false) return "Transformer: not invertible";
  if (answer.provenance === "model-output-invalid") return "Transformer: its output is not a matrix of this shape — see the raw tokens";
  return "Transformer: no answer";
}

function renderAnswers(answer) {
  const node = document.getElementById("answers");
  node.replaceChildren();
  const parts = Math.max(answer.exact_answer?.length ?? 0, answer.model_answer?.length ?? 0, 1);
  const vectorParts = VECTOR_PARTS[answer.operation] || [];
  for (let k = 0; k < parts; k++) {
    const block = element("div", "part");
    if (answer.part_names.length > 1) block.append(element("h3", "", answer.part_names[k]));
    const row = element("div", "trio");
    const model = answer.model_answer?.[k];
    const exact = answer.exact_answer?.[k];
    const modelBox = element("div", "side model-side");
    if (model) modelBox.append(matrixTable(model, "Transformer"));
    else modelBox.append(element("p", "missing", missingModelText(answer)));
    const exactBox = element("div", "side exact-side");
    if (exact) exactBox.append(matrixTable(exact, "Exact"));
    else exactBox.append(element("p", "missing", answer.invertible ? "Exact: not invertible" : "Exact: —"));
    row.append(modelBox, exactBox);
    if (model && exact) {
      const aligned = vectorParts.includes(k) ? alignSigns(model, exact) : model;
      const mapBox = element("div", "side map-side");
      mapBox.append(errorMap(aligned, exact));
      if (vectorParts.includes(k)) mapBox.append(element("p", "note", "columns compared up to sign"));
      row.append(mapBox);
    }
    block.append(row);
    node.append(block);
  }
  if (answer.scratchpad) node.append(scratchpadBlock(answer.scratchpad));
  if (answer.model_answer && answer.exact_answer) node.append(errorLegend());
}

function scratchpadBlock(pad) {
  // What the model wrote before its answer: shown beside the exact working, never judged.
  const block = element("div", "part scratchpad");
  block.append(element("h3", "", `The model's working: ${pad.title} (written before the answer, not judged)`));
  pad.model.forEach((model, k) => {
    const row = element("div", "trio");
    const modelBox = element("div", "side model-side");
    modelBox.append(matrixTable(model, "Transformer"));
    const exactBox = element("div", "side exact-side");
    exactBox.append(matrixTable(pad.exact[k], "Exact"));
    const mapBox = element("div", "side map-side");
    mapBox.append(errorMap(model, pad.exact[k]));
    row.append(modelBox, exactBox, mapBox);
    block.append(row);
  });
  return block;
}

function renderVerdicts(answer) {
  const node = document.getElementById("verdicts");
  node.replaceChildren();
  const list = element("dl", "facts");
  const add = (term, value, hint = "") => {
    const box = element("div");
    const dt = element("dt", "", term);
    if (hint) dt.title = hint;
    box.append(dt, element("dd", "", value));
    list.append(box);
  };
  add("Relative error", answer.relative_error === null ? "—" : `${fmt(100 * answer.relative_error)}%`);
  add("Confidence, a number", answer.confidence_per_number === null ? "—" : `${fmt(100 * answer.confidence_per_number)}%`,
    "How sure the model is of a typical number of its answer: the geometric mean of its probability over the numbers");
  add("Confidence, whole answer", answer.confidence === null ? "—" : `${fmt(100 * answer.confidence)}%`,
    "The model's probability of its whole answer, every number right at once");
  add("Model time", answer.timing_ms.model === null ? "—" : `${fmt(answer.timing_ms.model)} ms`);
  add("Exact time", `${fmt(answer.timing_ms.exact)} ms`);
  node.append(list);
  const badges = element("ul", "badges");
  badges.setAttribute("aria-label", "Pass or fail at each tolerance");
  for (const [tolerance, passed] of Object.entries(answer.passes)) {
    badges.append(element("li", passed ? "pass" : "fail", `${tolerance}: ${passed ? "pass" : "fail"}`));
  }
  if (badges.children.length) node.append(badges);
  if (answer.calibration) node.append(calibrationNote(answer.calibration));
}

function calibrationNote(calibration) {
  // What the confidence has meant on the model's own test problems: how often answers this sure were right.
  const range = `${fmt(100 * calibration.from)}% and ${fmt(100 * calibration.to)}%`;
  const right = (tolerance) => `${fmt(100 * calibration.accuracy[tolerance])}%`;
  return element("p", "note calibration",
    `Of the ${calibration.count.toLocaleString("en")} ${calibration.test_set.replaceAll("_", "-")} test answers of this model with a confidence a number between ` +
    `${range}, ${right("5%")} were right within 5% (${right("1%")} within 1%).`);
}

function renderBeams(answer) {
  const node = document.getElementById("beams");
  node.hidden = answer.beams.length === 0;
  node.replaceChildren();
  if (node.hidden) return;
  node.append(element("h3", "", "Beam alternatives"));
  const table = element("table", "beam-table");
  const head = element("tr");
  ["#", "Score (log-probability)", "Probability", "Relative error", "Answer"].forEach((t) => head.append(element("th", "", t)));
  const thead = element("thead");
  thead.append(head);
  const body = element("tbody");
  answer.beams.forEach((beam, k) => {
    const tr = element("tr");
    tr.append(
      element("td", "", String(k + 1)),
      element("td", "", fmt(beam.log_prob)),
      element("td", "", beam.log_prob === null ? "—" : `${fmt(100 * Math.exp(beam.log_prob))}%`),
      element("td", "", beam.relative_error === null ? "—" : `${fmt(100 * beam.relative_error)}%`),
    );
    const cell = element("td");
    if (beam.answer) beam.answer.forEach((m) => cell.append(matrixTable(m)));
    else cell.textContent = beam.not_invertible ? "not invertible" : "does not decode";
    tr.append(cell);
    body.append(tr);
  });
  table.append(thead, body);
  node.append(table);
}

function startedFrom(card) {
  const { operation, cpu_hours: hours } = card.started_from;
  const name = operation.replaceAll("_", " ");
  const model = operation === card.operation ? `an earlier ${name} model` : `the ${name} model`;
  return `${model}, whose ${fmt(hours)} h are in the training CPU time`;
}

function renderCard(answer) {
  const section = document.getElementById("card");
  const list = document.getElementById("card-list");
  list.replaceChildren();
  const card = answer.model;
  section.hidden = !card;
  if (!card) return;
  const percent = (table) =>
    table ? Object.entries(table).filter(([k]) => k.endsWith("%")).map(([k, v]) => `${k}: ${v === null ? "—" : fmt(100 * v) + "%"}`).join(", ") : "not measured";
  const rows = [
    ["Operation", card.operation],
    ["Encoding", card.encoding],
    ["Layers", `${card.encoder_layers} encoder, ${card.decoder_layers} decoder`],
    ["Width", `${card.width} (${card.heads} heads)`],
    ["Design", [...card.features, ...(card.scratchpad ? [`writes its ${card.scratchpad} first`] : [])].join(", ") || "plain"],
    ["Parameters", card.parameters === null ? "—" : card.parameters.toLocaleString("en")],
    ["Examples seen", card.examples_seen === null ? "—" : card.examples_seen.toLocaleString("en")],
    ["Training CPU time", `${fmt(card.training_cpu_hours)} h`],
    ...(card.started_from ? [["Started from", startedFrom(card)]] : []),
    ["Trained sizes", card.sizes.length > 6 ? `${card.sizes[0]} … ${card.sizes.at(-1)} (${card.sizes.length} sizes)` : card.sizes.join(", ")],
    [`Accuracy at ${answer.size}${card.size_trained === false ? " (not a trained size)" : ""}`, percent(card.accuracy_this_size)],
    ...(card.typed_accuracy_this_size ? [[`Accuracy at ${answer.size} on typed test (whole numbers, zeros)`, percent(card.typed_accuracy_this_size)]] : []),
    ["Accuracy overall", percent(card.accuracy)],
  ];
  const bar = card.bar_this_size;
  if (bar) {
    rows.push([`Accuracy at ${answer.size} on ${bar.problems.toLocaleString("en")} more problems`,
      `${fmt(100 * bar.tolerance)}%: ${fmt(100 * bar.accuracy)}% — the bar (${fmt(100 * bar.share)}%) is ${bar.met ? "met" : "not met"}`]);
  }
  if (card.verdict_accuracy !== null && card.verdict_accuracy !== undefined) {
    rows.push(["Invertible? verdict right", `${fmt(100 * card.verdict_accuracy)}%`]);
  }
  if (card.verdict_accuracy_this_size !== null && card.verdict_accuracy_this_size !== undefined) {
    rows.push([`Invertible? verdict right at ${answer.size}`, `${fmt(100 * card.verdict_accuracy_this_size)}%`]);
  }
  const testSet = (name) => `${name.replaceAll("_", "-")} test`;
  for (const [name, table] of Object.entries(card.other_distributions || {})) {
    rows.push([`Accuracy on ${testSet(name)}`, percent(table)]);
  }
  for (const [name, share] of Object.entries(card.other_verdicts_this_size || {})) {
    rows.push([`Invertible? verdict right at ${answer.size} on ${testSet(name)}`, `${fmt(100 * share)}%`]);
  }
  for (const [term, value] of rows) {
    const box = element("div");
    box.append(element("dt", "", term), element("dd", "", value));
    list.append(box);
  }
}

export function renderResult(answer) {
  const section = document.getElementById("result");
  renderProvenance(answer);
  renderInvertible(answer);
  renderAnswers(answer);
  renderVerdicts(answer);
  renderBeams(answer);
  document.getElementById("token-text").textContent = answer.tokens.length ? answer.tokens.join(" ") : "(no tokens)";
  document.getElementById("tokens").open = answer.provenance === "model-output-invalid";
  renderCard(answer);
  section.hidden = false;
  section.classList.remove("appear");
  void section.offsetWidth; // restart the animation
  section.classList.add("appear");
}
