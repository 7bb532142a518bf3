// Shared helpers: building DOM nodes (text only, never HTML strings), formatting numbers and
// times one way everywhere, and reading the public API.

export const API = "/api/v1";

/** An element: h("a", {href: "#/"}, "text", child, ...). Text is always a text node. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const INTEGER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** Counts: exact integers with thousands separators (1,032,192). */
export const count = (n) => INTEGER.format(n);

/** Accuracies and interval ends: a fraction with four decimals (0.8100). */
export const fraction = (x) => x.toFixed(4);

/** An accuracy interval: [0.7222, 0.8749]. */
export const interval = (low, high) => `[${fraction(low)}, ${fraction(high)}]`;

/** A moment, always in UTC: 2025-03-01 12:00:05 UTC, in a <time> element. */
export function time(value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "never");
  const date = typeof value === "number" ? new Date(value) : new Date(value);
  const text = date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  return h("time", { datetime: date.toISOString() }, text);
}

/** A long hex digest, shortened for reading, whole in its title and for copying. */
export function digest(hex, chars = 12) {
  return h("code", { class: "digest", title: hex }, hex.length > chars ? `${hex.slice(0, chars)}…` : hex);
}

/** A problem (RFC 9457) or a network failure, as one error with the detail to show. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** GET a public API path; the JSON body, or an ApiError with the problem's detail. */
export async function api(path) {
  let response;
  try {
    response = await fetch(API + path, { headers: { Accept: "application/json" } });
  } catch (err) {
    throw new ApiError(0, `The service did not answer (${err.message}).`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, (body && (body.detail || body.title)) || response.statusText);
  }
  return body;
}

/** Every page of a paged leaderboard view (limit 500 each, at most `maxPages`). */
export async function allRows(path, maxPages = 20) {
  let offset = 0;
  let first = null;
  const rows = [];
  for (let page = 0; page < maxPages && offset !== null; page += 1) {
    const sep = path.includes("?") ? "&" : "?";
    const body = await api(`${path}${sep}limit=500&offset=${offset}`);
    first = first || body;
    rows.push(...body.rows);
    offset = body.next_offset;
  }
  return { ...first, rows, complete: offset === null };
}

/** A term/description list from [term, description] pairs. */
export function facts(pairs, label) {
  return h(
    "dl",
    { class: "facts", "aria-label": label },
    pairs.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

/** A labelled state badge (the word itself, not only its colour). */
export function badge(state) {
  return h("span", { class: `badge state-${state}` }, state);
}

/** A command to copy, with a button that copies it. */
export function command(text, label) {
  const code = h("code", {}, text);
  const button = h(
    "button",
    {
      type: "button",
      class: "copy",
      "aria-label": `Copy: ${label}`,
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
          button.textContent = "Copied";
        } catch {
          button.textContent = "Select and copy";
        }
      },
    },
    "Copy",
  );
  return h("div", { class: "command" }, h("pre", {}, code), button);
}
