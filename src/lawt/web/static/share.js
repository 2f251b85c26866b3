// A problem as a URL fragment (#op=sum&beam=1&m=1,2;3,4&m=5,6;7,8) and back.

import { parseMatrix } from "./parse.js";

export function problemToHash(operation, beam, matrices) {
  const params = new URLSearchParams({ op: operation, beam: String(beam) });
  for (const m of matrices) params.append("m", m.map((row) => row.join(",")).join(";"));
  return `#${params.toString()}`;
}

// The problem in a fragment, or null when there is none; throws when it is malformed.
export function hashToProblem(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const operation = params.get("op");
  if (!operation) return null;
  const beam = Number(params.get("beam") || "1");
  const matrices = params.getAll("m").map((text) => parseMatrix(text));
  return { operation, beam, matrices };
}
