// The comments box: newest first, each comment inserted as text.

import { getJSON, postJSON } from "./api.js";

const MAX = 100;

function item(comment) {
  const li = document.createElement("li");
  const time = document.createElement("time");
  time.dateTime = comment.created_at;
  time.textContent = new Date(comment.created_at).toLocaleString();
  const text = document.createElement("p");
  text.className = "comment-text";
  text.textContent = comment.text;
  li.append(time, text);
  return li;
}

export async function loadComments() {
  const list = document.getElementById("comment-list");
  try {
    const comments = await getJSON("/api/comments");
    list.replaceChildren(...comments.map(item));
  } catch (error) {
    document.getElementById("comment-error").textContent = `Comments cannot be loaded: ${error.message}`;
  }
}

export function setUpComments() {
  const form = document.getElementById("comment-form");
  const input = document.getElementById("comment-text");
  const count = document.getElementById("comment-count");
  const error = document.getElementById("comment-error");
  const length = () => [...input.value.trim()].length;
  input.addEventListener("input", () => {
    count.textContent = `${length()} / ${MAX}`;
    count.classList.toggle("over", length() > MAX);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (length() === 0 || length() > MAX) {
      error.textContent = `A comment has 1 to ${MAX} characters.`;
      return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const comment = await postJSON("/api/comments", { text: input.value });
      document.getElementById("comment-list").prepend(item(comment));
      input.value = "";
      count.textContent = `0 / ${MAX}`;
    } catch (e) {
      error.textContent = e.message;
    } finally {
      button.disabled = false;
    }
  });
  return loadComments();
}
