// Calls to the calculator's API; failures become ApiError with the server's sentence.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin", ...options });
  } catch {
    throw new ApiError(0, "the server cannot be reached");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : `HTTP error ${response.status}`;
    throw new ApiError(response.status, detail);
  }
  return body;
}

export function getJSON(path) {
  return request(path, { headers: { Accept: "application/json" } });
}

export function postJSON(path, data) {
  return request(path, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(data),
  });
}
