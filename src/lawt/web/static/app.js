// The calculator page: operation picker, operand editors, paste box, compute, copy, comments and stats.

import { getJSON, postJSON } from "./api.js";
import { setUpComments } from "./comments.js";
import { toLatex, toNumpy } from "./format.js";
import { MatrixEditor } from "./grid.js";
import { parseMatrix } from "./parse.js";
import { renderResult } from "./result.js";
import { hashToProblem, problemToHash } from "./share.js";
import { refreshStats } from "./stats.js";

// How the second operand's shape follows the first: [rows, columns] of B from A (and B's own columns).
const LINKS = {
  sum: (a) => [a.rows, a.cols],
  matvec: (a) => [a.cols, 1],
  product: (a, b) => [a.cols, b.cols],
};
const STATS_EVERY_MS = 30000;

const $ = (id) => document.getElementById(id);
const state = { operations: {}, editors: [], last: null };

function current() {
  return state.operations[$("operation").value];
}

function editorsInUse() {
  return state.editors.slice(0, current().operands);
}

function reconcile() {
  const info = current();
  const [a, b] = state.editors;
  if (info.square && a.cols !== a.rows) a.resize(a.rows, a.rows, false);
  const link = LINKS[info.operation];
  if (info.operands === 2 && link) {
    const [rows, cols] = link(a, b);
    if (rows !== b.rows || cols !== b.cols) b.resize(rows, cols, false);
  }
}

function describeOperation(info) {
  const notes = [];
  if (info.available) {
    const sizes = info.card.sizes;
    notes.push(`Model: ${info.card.encoding} encoding, trained on ${sizes.length > 4 ? `${sizes[0]} to ${sizes.at(-1)}` : sizes.join(", ")}.`);
  } else {
    notes.push(`No model for this operation (${info.reason}); the exact answer is still shown, labelled as such.`);
  }
  if (info.symmetric) notes.push("The model expects symmetric matrices: entries mirror across the diagonal.");
  $("operation-note").textContent = notes.join(" ");
}

function selectOperation() {
  const info = current();
  const [a, b] = state.editors;
  a.configure({ name: "A", fixedCols: info.square, symmetric: info.symmetric });
  b.configure({ name: info.operation === "matvec" ? "v" : "B", fixedRows: true, fixedCols: info.operation !== "product" });
  b.root.hidden = info.operands < 2;
  reconcile();
  const target = $("paste-target");
  target.replaceChildren(...editorsInUse().map((e, k) => new Option(e.name, String(k))));
  describeOperation(info);
}

function showProblemError(message) {
  $("problem-error").textContent = message;
}

async function compute() {
  showProblemError("");
  let matrices;
  try {
    matrices = editorsInUse().map((e) => e.read());
  } catch (error) {
    showProblemError(error.message);
    return;
  }
  const info = current();
  const beam = Number($("beam").value);
  const operands = matrices.map((m, k) => (info.operation === "matvec" && k === 1 ? m.map((row) => row[0]) : m));
  const button = $("compute");
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const answer = await postJSON("/api/compute", { operation: info.operation, operands, beam });
    state.last = answer;
    renderResult(answer);
    history.replaceState(null, "", problemToHash(info.operation, beam, matrices));
    refreshStats();
  } catch (error) {
    showProblemError(error.status === 503 ? `${error.message} (the server is busy)` : error.message);
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

async function randomExample() {
  showProblemError("");
  const info = current();
  const a = state.editors[0];
  const label = `${a.rows}x${a.cols}`;
  const keepSize = !info.available || info.card.sizes.includes(label);
  const query = new URLSearchParams({ operation: info.operation });
  if (keepSize) query.set("size", label);
  try {
    const example = await getJSON(`/api/example?${query}`);
    example.operands.forEach((m, k) => state.editors[k].setMatrix(m, false));
    reconcile();
    const untrained = info.available && !example.trained_size ? " — a size the model was not trained on" : "";
    $("operation-note").textContent = `Random ${example.size} example from the “${example.distribution}” distribution${untrained}.`;
  } catch (error) {
    showProblemError(error.message);
  }
}

function pasteIntoGrid() {
  $("paste-error").textContent = "";
  const editor = state.editors[Number($("paste-target").value || "0")];
  try {
    let matrix = parseMatrix($("paste-text").value);
    if (editor.name === "v" && matrix.length === 1) matrix = matrix[0].map((x) => [x]);
    editor.setMatrix(matrix);
  } catch (error) {
    $("paste-error").textContent = error.message;
  }
}

async function copyAnswer(kind) {
  const status = $("copy-status");
  const fallback = $("copy-fallback");
  const answer = state.last;
  fallback.hidden = true;
  if (!answer) return;
  let text = window.location.href;
  if (kind !== "link") {
    if (!answer.model_answer) {
      status.textContent = "The model gave no answer to copy.";
      return;
    }
    text = (kind === "numpy" ? toNumpy : toLatex)(answer.model_answer, answer.part_names);
  }
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied.";
  } catch {
    fallback.value = text;
    fallback.hidden = false;
    fallback.select();
    status.textContent = "Select and copy the text below.";
  }
}

function openProblemFromHash() {
  let problem;
  try {
    problem = hashToProblem(window.location.hash);
  } catch (error) {
    showProblemError(`The link's problem cannot be read: ${error.message}`);
    return false;
  }
  if (!problem || !state.operations[problem.operation]) return false;
  $("operation").value = problem.operation;
  if ([...$("beam").options].some((o) => o.value === String(problem.beam))) $("beam").value = String(problem.beam);
  selectOperation();
  problem.matrices.slice(0, current().operands).forEach((m, k) => state.editors[k].setMatrix(m, false));
  reconcile();
  compute();
  return true;
}

async function loadOperations() {
  const select = $("operation");
  const operations = await getJSON("/api/models");
  for (const info of operations) {
    state.operations[info.operation] = info;
    const option = new Option(info.available ? info.title : `${info.title} — no model`, info.operation);
    option.dataset.available = String(info.available);
    select.append(option);
  }
  const firstAvailable = operations.find((o) => o.available);
  if (firstAvailable) select.value = firstAvailable.operation;
}

async function main() {
  state.editors = [new MatrixEditor(reconcile), new MatrixEditor(reconcile)];
  $("operands").append(...state.editors.map((e) => e.root));
  $("operation").addEventListener("change", selectOperation);
  $("compute").addEventListener("click", compute);
  $("example").addEventListener("click", randomExample);
  $("paste-apply").addEventListener("click", pasteIntoGrid);
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => copyAnswer(button.dataset.copy));
  }
  $("operands").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches("input.cell")) compute();
  });
  setUpComments();
  refreshStats();
  setInterval(refreshStats, STATS_EVERY_MS);
  try {
    await loadOperations();
  } catch (error) {
    showProblemError(`The list of operations cannot be loaded: ${error.message}`);
    return;
  }
  if (!openProblemFromHash()) selectOperation();
  window.addEventListener("hashchange", openProblemFromHash);
}

main();
