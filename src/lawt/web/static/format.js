// Numbers and matrices as text: on screen, as NumPy and as LaTeX.

export function fmt(x) {
  if (x === null || x === undefined) return "—";
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(2).replace("e+", "e");
  return String(Number(x.toPrecision(3)));
}

function plain(x) {
  return x === null ? "nan" : String(Number(x.toPrecision(3)));
}

export function toNumpy(parts, names) {
  const arrays = parts.map((m) => `np.array([${m.map((r) => `[${r.map(plain).join(", ")}]`).join(", ")}])`);
  if (arrays.length === 1) return arrays[0];
  return arrays.map((a, i) => `# ${names[i] || `part ${i + 1}`}\n${a}`).join("\n");
}

function latexNumber(x) {
  if (x === null) return "\\text{nan}";
  const s = fmt(x);
  const m = s.match(/^(-?[\d.]+)e(-?\d+)$/);
  return m ? `${m[1]}\\times 10^{${Number(m[2])}}` : s;
}

export function toLatex(parts, names) {
  const matrices = parts.map(
    (m) => `\\begin{pmatrix} ${m.map((r) => r.map(latexNumber).join(" & ")).join(" \\\\ ")} \\end{pmatrix}`,
  );
  if (matrices.length === 1) return matrices[0];
  return matrices.map((t, i) => `\\text{${names[i] || `part ${i + 1}`}} = ${t}`).join(",\\quad ");
}
