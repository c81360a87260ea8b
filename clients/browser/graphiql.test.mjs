// The GraphiQL page as a person uses it, in headless Chromium, against a running The Eye:
// every request stays on 127.0.0.1, nothing fails or logs an error on load, the header names
// The Eye, the docs pane and autocomplete know the Query fields, a query run with a key in the
// headers pane shows its result, the placeholder header gets the server's explanation, and
// headers reach the browser's storage only once the user turns persistence on.
//
// tests/api/browser.rs starts the server, records the events this test expects and runs
// `node --test` here with:
//   EYE_URL              the server, e.g. http://127.0.0.1:40123
//   EYE_READ_KEY         a key with the `read` scope
//   EYE_SESSION_ID       the session whose events were recorded
//   EYE_EXPECTED_EVENTS  JSON: the `events` answer expected for QUERY below
//   EYE_CHROMIUM         the browser (default /usr/bin/chromium)
//   EYE_SCREENSHOT       where to save a PNG of the page showing the result (optional)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { env, watch } from "./common.mjs";

const server = new URL(env("EYE_URL"));
const readKey = env("EYE_READ_KEY");
const sessionId = env("EYE_SESSION_ID");
const expectedEvents = JSON.parse(env("EYE_EXPECTED_EVENTS"));
const executablePath = env("EYE_CHROMIUM", "/usr/bin/chromium");
const screenshot = process.env.EYE_SCREENSHOT;

const QUERY = `query {
  events(filter: {sessionId: ${JSON.stringify(sessionId)}}, first: 10) {
    edges { node { id category name data timestamp } }
  }
}`;
const QUERY_FIELDS = [
  "apiKeys",
  "applications",
  "erasures",
  "event",
  "eventCounts",
  "eventErrors",
  "eventSeries",
  "eventTypes",
  "events",
  "session",
];
const MALFORMED =
  "malformed Authorization header: expected `Authorization: Bearer <key>`, but it still holds " +
  "the placeholder `<paste your API key>`: put your API key there";

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
});

/**
 * Opens GraphiQL in a fresh browser context (empty storage) once it has loaded its schema,
 * recording every request, failed response, console error and uncaught exception.
 */
async function openGraphiQL(context) {
  context ??= await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const seen = watch(page);
  await load(page);
  return { context, page, seen };
}

/** Loads (or reloads) the page and waits for the introspection answer and the editors. */
async function load(page) {
  const introspection = page.waitForResponse(
    (r) => r.url().endsWith("/graphql") && r.request().method() === "POST",
  );
  await page.goto(new URL("/graphql", server).href, { waitUntil: "load" });
  await introspection;
  await page.waitForSelector(".graphiql-query-editor .CodeMirror");
  await page.waitForLoadState("networkidle");
}

/** The text of a CodeMirror editor under `selector`. */
const editorText = (page, selector) =>
  page.$eval(`${selector} .CodeMirror`, (el) => el.CodeMirror.getValue());

/** Replaces the text of a CodeMirror editor under `selector`, as typing would. */
const setEditorText = (page, selector, text) =>
  page.$eval(`${selector} .CodeMirror`, (el, t) => el.CodeMirror.setValue(t), text);

const HEADERS = ".graphiql-editor-tool .graphiql-editor:not(.hidden)";
const QUERY_EDITOR = ".graphiql-query-editor";
const RESPONSE = ".graphiql-response";

/** Runs the query editor's operation and returns the response pane parsed as JSON. */
async function run(page) {
  const answered = page.waitForResponse(
    (r) => r.url().endsWith("/graphql") && r.request().method() === "POST",
  );
  await page.click(".graphiql-execute-button");
  await answered;
  await page.waitForFunction(
    (selector) => document.querySelector(selector).CodeMirror.getValue().trim() !== "",
    `${RESPONSE} .CodeMirror`,
  );
  return JSON.parse(await editorText(page, RESPONSE));
}

/** Every value GraphiQL keeps in the page's local storage, joined. */
const storedText = (page) =>
  page.evaluate(() => Object.values({ ...window.localStorage }).join("\n"));

test("loads with no error, names The Eye, and requests nothing beyond 127.0.0.1", async () => {
  const { context, page, seen } = await openGraphiQL();
  const elsewhere = seen.requests.filter((u) => {
    const url = new URL(u);
    return url.protocol !== "data:" && url.host !== server.host;
  });
  assert.deepEqual(elsewhere, []);
  assert.equal(server.hostname, "127.0.0.1");
  const paths = new Set(seen.requests.map((u) => new URL(u).pathname));
  for (const path of ["/graphql", "/graphiql/assets/graphiql.min.js", "/graphiql/assets/favicon.svg"]) {
    assert.ok(paths.has(path), `${path} was not requested: ${[...paths]}`);
  }
  assert.deepEqual(seen.failures, []);
  assert.deepEqual(seen.errors, []);
  assert.equal(await page.title(), "The Eye — GraphiQL");
  assert.equal((await page.textContent(".graphiql-logo")).trim(), "The Eye");
  assert.equal(await editorText(page, RESPONSE), "");
  assert.equal(
    await editorText(page, HEADERS),
    '{\n  "Authorization": "Bearer <paste your API key>"\n}',
  );
  await context.close();
});

test("the docs pane lists the Query fields", async () => {
  const { context, page, seen } = await openGraphiQL();
  await page.click('.graphiql-sidebar button[aria-label*="Documentation Explorer"]');
  // "Root Types — query: Query"
  await page.locator("a.graphiql-doc-explorer-type-name", { hasText: /^Query$/ }).first().click();
  await page.waitForSelector(".graphiql-doc-explorer-title >> text=Query");
  await page.waitForSelector(".graphiql-doc-explorer-field-name");
  const fields = await page.$$eval(".graphiql-doc-explorer-field-name", (els) =>
    els.map((el) => el.textContent),
  );
  assert.deepEqual([...fields].sort(), QUERY_FIELDS);
  assert.equal(await page.$(".graphiql-doc-explorer-error"), null);
  assert.deepEqual(seen.errors, []);
  await context.close();
});

test("autocomplete offers the Query fields", async () => {
  const { context, page, seen } = await openGraphiQL();
  await setEditorText(page, QUERY_EDITOR, "{\n  \n}");
  await page.$eval(`${QUERY_EDITOR} .CodeMirror`, (el) => {
    el.CodeMirror.focus();
    el.CodeMirror.setCursor({ line: 1, ch: 2 });
  });
  await page.keyboard.type("event");
  await page.waitForSelector(".CodeMirror-hints .CodeMirror-hint");
  const hints = await page.$$eval(".CodeMirror-hints .CodeMirror-hint", (els) =>
    els.map((el) => el.textContent),
  );
  assert.deepEqual([...hints].sort(), ["event", "eventCounts", "eventErrors", "eventSeries", "eventTypes", "events"]);
  assert.deepEqual(seen.errors, []);
  await context.close();
});

test("a query run with the read key in the headers pane shows its result", async () => {
  const { context, page, seen } = await openGraphiQL();
  await setEditorText(page, HEADERS, JSON.stringify({ Authorization: `Bearer ${readKey}` }));
  await setEditorText(page, QUERY_EDITOR, QUERY);
  const answer = await run(page);
  assert.deepEqual(answer, { data: { events: expectedEvents } });
  if (screenshot) await page.screenshot({ path: screenshot });
  // Not persisted unless the user asks: the key is nowhere in the page's storage.
  await page.waitForTimeout(600); // GraphiQL writes its tabs to storage after 500 ms
  assert.equal((await storedText(page)).includes(readKey), false);
  assert.deepEqual(seen.failures, []);
  assert.deepEqual(seen.errors, []);
  await context.close();
});

test("a malformed Authorization header shows the server's message", async () => {
  const { context, page } = await openGraphiQL();
  // The headers pane still holds the placeholder.
  const answer = await run(page);
  assert.equal(answer.errors.length, 1);
  assert.equal(answer.errors[0].message, MALFORMED);
  assert.equal(answer.errors[0].extensions.code, "UNAUTHENTICATED");
  assert.equal((await page.textContent(RESPONSE)).includes(MALFORMED), true);
  await context.close();
});

test("headers survive a reload only once the user turns on persistence", async () => {
  const { context, page } = await openGraphiQL();
  const headers = JSON.stringify({ Authorization: `Bearer ${readKey}` });
  await setEditorText(page, HEADERS, headers);
  await page.waitForTimeout(600);
  await load(page);
  assert.equal(await editorText(page, HEADERS), '{\n  "Authorization": "Bearer <paste your API key>"\n}');
  assert.equal((await storedText(page)).includes(readKey), false);

  await setEditorText(page, HEADERS, headers);
  await page.click('button[aria-label="Open settings dialog"]');
  await page.click("#enable-persist-headers");
  await page.keyboard.press("Escape");
  await page.waitForTimeout(600);
  assert.equal((await storedText(page)).includes(readKey), true);
  await load(page);
  assert.equal(await editorText(page, HEADERS), headers);
  await context.close();
});
