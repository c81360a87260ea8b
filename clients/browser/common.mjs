// What the browser tests share: their settings from the environment, and a record of what a
// page did (requests, failed responses, console errors and warnings, uncaught exceptions).

import assert from "node:assert/strict";

/** The environment variable `name` (or `fallback`); the test fails when neither is set. */
export const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  assert.ok(value, `set ${name}`);
  return value;
};

/**
 * Records what `page` does from now on: `requests` (HTTP and websocket URLs), `failures`
 * (failed requests, answers of 400 and above) and `errors` (console errors and warnings, and
 * uncaught exceptions).
 */
export function watch(page) {
  const seen = { requests: [], failures: [], errors: [] };
  page.on("request", (request) => seen.requests.push(request.url()));
  page.on("websocket", (socket) => seen.requests.push(socket.url()));
  page.on("requestfailed", (request) => seen.failures.push(`${request.url()}: failed`));
  page.on("response", (response) => {
    if (response.status() >= 400) seen.failures.push(`${response.url()}: ${response.status()}`);
  });
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      seen.errors.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => seen.errors.push(`uncaught: ${error.message}`));
  return seen;
}
