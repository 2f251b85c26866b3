// The usage figures in the footer.

import { getJSON } from "./api.js";

export async function refreshStats() {
  try {
    const s = await getJSON("/api/stats");
    document.getElementById("stat-online").textContent = String(s.online_now);
    document.getElementById("stat-visitors").textContent = String(s.total_visitors);
    document.getElementById("stat-computations").textContent = String(s.computations);
    document.getElementById("stat-top").textContent = s.most_used_operation
      ? `${s.most_used_operation} (${s.most_used_count})`
      : "—";
  } catch {
    // the figures are decoration; the calculator works without them
  }
}
