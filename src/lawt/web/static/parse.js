// Matrices typed or pasted by people: spreadsheet cells, spaces/commas/new lines, NumPy and MATLAB.

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
export const MAX_DIM = 10;

export function parseNumber(token, where) {
  const t = token.trim().replace(/\u2212/g, "-");
  if (!NUMBER.test(t)) throw new Error(`${where}: "${t.slice(0, 20)}" is not a number`);
  const x = Number(t);
  if (!Number.isFinite(x)) throw new Error(`${where}: ${t.slice(0, 20)} is too large`);
  return x;
}

function splitRows(body) {
  if (/^\[\s*\[/.test(body)) {
    if (!/\]\s*\]$/.test(body)) throw new Error("a matrix written [[...], [...]] must end with ']]'");
    const inner = body.replace(/^\[\s*\[/, "").replace(/\]\s*\]$/, "");
    return inner.split(/\]\s*,?\s*\[/);
  }
  if (body.startsWith("[") !== body.endsWith("]")) throw new Error("unbalanced brackets");
  if (body.startsWith("[")) body = body.slice(1, -1);
  return body.split(/[;\n]/).filter((r) => r.trim() !== "");
}

export function parseMatrix(text) {
  let body = text.trim().replace(/^(np\.)?array\(/, "").replace(/\)$/, "").trim();
  if (!body) throw new Error("nothing to read: the box is empty");
  const rows = splitRows(body).map((r, i) =>
    r.trim().split(/[,\s]+/).filter((t) => t !== "").map((t, j) => parseNumber(t, `row ${i + 1}, column ${j + 1}`)),
  );
  if (rows.length === 0 || rows[0].length === 0) throw new Error("the matrix is empty");
  const widths = new Set(rows.map((r) => r.length));
  if (widths.size > 1) throw new Error(`rows have different lengths (${[...widths].sort((a, b) => a - b).join(", ")})`);
  if (rows.length > MAX_DIM || rows[0].length > MAX_DIM) {
    throw new Error(`matrices are limited to ${MAX_DIM}×${MAX_DIM}, got ${rows.length}×${rows[0].length}`);
  }
  return rows;
}
