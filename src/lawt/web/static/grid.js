// An operand editor: a grid of number inputs that grows and shrinks (1 to 10 rows and columns).

import { MAX_DIM, parseNumber } from "./parse.js";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class MatrixEditor {
  constructor(onResize) {
    this.onResize = onResize;
    this.name = "A";
    this.rows = 2;
    this.cols = 2;
    this.cells = [["1", "2"], ["3", "4"]];
    this.fixedRows = false;
    this.fixedCols = false;
    this.symmetric = false;
    this.root = element("fieldset", "editor");
    this.legend = element("legend");
    this.controls = element("div", "dims");
    this.rowControl = this.dimension("rows", (d) => this.resize(this.rows + d, this.cols));
    this.colControl = this.dimension("columns", (d) => this.resize(this.rows, this.cols + d));
    this.controls.append(this.rowControl.box, this.colControl.box);
    this.table = element("table", "grid");
    this.root.append(this.legend, this.controls, this.table);
  }

  dimension(word, step) {
    const box = element("div", "dim");
    const label = element("span", "dim-label");
    const less = element("button", "step", "−");
    const more = element("button", "step", "+");
    less.type = more.type = "button";
    less.addEventListener("click", () => step(-1));
    more.addEventListener("click", () => step(1));
    box.append(label, less, more);
    return { box, label, less, more, word };
  }

  // name: "A", "B" or "v"; fixed rows/columns follow another editor or the operation's rules;
  // symmetric: typing an entry also sets its mirror image across the diagonal.
  configure({ name, fixedRows = false, fixedCols = false, symmetric = false }) {
    Object.assign(this, { name, fixedRows, fixedCols, symmetric });
    this.render();
  }

  resize(rows, cols, notify = true) {
    rows = Math.min(MAX_DIM, Math.max(1, rows));
    cols = Math.min(MAX_DIM, Math.max(1, cols));
    this.cells = Array.from({ length: rows }, (_, i) =>
      Array.from({ length: cols }, (_, j) => this.cells[i]?.[j] ?? "0"),
    );
    this.rows = rows;
    this.cols = cols;
    this.render();
    if (notify) this.onResize(this);
  }

  setMatrix(matrix, notify = true) {
    this.cells = matrix.map((row) => row.map((x) => String(x)));
    this.resize(matrix.length, matrix[0].length, notify);
  }

  // The numbers, or an Error naming the first cell that is not a number.
  read() {
    return this.cells.map((row, i) =>
      row.map((text, j) => parseNumber(text, `${this.name}, row ${i + 1}, column ${j + 1}`)),
    );
  }

  render() {
    const square = this.fixedCols && this.cols === this.rows && !this.fixedRows;
    this.legend.textContent = `${this.name}  (${this.rows}×${this.cols})`;
    for (const [control, count, fixed] of [
      [this.rowControl, this.rows, this.fixedRows],
      [this.colControl, this.cols, this.fixedCols],
    ]) {
      control.label.textContent = `${count} ${count === 1 ? control.word.replace(/s$/, "") : control.word}`;
      control.less.disabled = fixed || count <= 1;
      control.more.disabled = fixed || count >= MAX_DIM;
      control.less.setAttribute("aria-label", `Remove a ${control.word.replace(/s$/, "")} from ${this.name}`);
      control.more.setAttribute("aria-label", `Add a ${control.word.replace(/s$/, "")} to ${this.name}`);
    }
    this.colControl.box.hidden = square;
    this.controls.hidden = this.fixedRows && this.fixedCols;
    const body = element("tbody");
    this.cells.forEach((row, i) => {
      const tr = element("tr");
      row.forEach((text, j) => {
        const td = element("td");
        const input = element("input", "cell");
        input.value = text;
        input.inputMode = "decimal";
        input.autocomplete = "off";
        input.spellcheck = false;
        input.dataset.row = i;
        input.dataset.col = j;
        input.setAttribute("aria-label", `${this.name} row ${i + 1} column ${j + 1}`);
        input.addEventListener("input", () => this.edit(i, j, input.value));
        td.append(input);
        tr.append(td);
      });
      body.append(tr);
    });
    this.table.replaceChildren(body);
  }

  edit(i, j, text) {
    this.cells[i][j] = text;
    if (this.symmetric && i !== j) {
      this.cells[j][i] = text;
      const twin = this.table.querySelector(`input[data-row="${j}"][data-col="${i}"]`);
      if (twin) twin.value = text;
    }
  }
}
