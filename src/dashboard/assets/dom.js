// Small DOM helpers. Everything shown comes from events, which anyone holding an ingest key
// wrote: text is only ever set as text, never parsed as HTML.

/** An element with attributes (`class`, `data-*`, …) and children (strings become text). */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null) element.setAttribute(name, value);
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

/** A date-time from the API in the browser's zone, e.g. "1/1/2021, 10:15:27 AM". */
export function localTime(iso) {
  return new Date(iso).toLocaleString();
}

/** Shows `message` in `element` (empty hides it). */
export function showError(element, error) {
  element.textContent = error ? String(error.message ?? error) : "";
}

/** `data` as compact JSON. */
export function json(data) {
  return JSON.stringify(data);
}
