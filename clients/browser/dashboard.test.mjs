// The dashboard as a person uses it, in headless Chromium (time zone Europe/Paris), against a
// running The Eye: the read key is asked for once and kept in sessionStorage only; nothing is
// requested beyond 127.0.0.1 and nothing logs an error; the chart plots exactly the recorded
// counts on a canvas; the top lists and the session explorer show the recorded events; the live
// tail shows an event and a rejection recorded after the page opened (over the subscriptions'
// websocket), held back while paused, and polls when the websocket is refused; and the page
// fits a phone's screen.
//
// tests/api/dashboard.rs starts the server, records the events and runs `node --test` here with:
//   EYE_URL        the server, e.g. http://127.0.0.1:40123
//   EYE_READ_KEY   a key with the `read` scope
//   EYE_EXPECTED   JSON: what the page must show (see tests/api/dashboard.rs)
//   EYE_PAGE_OPEN  a file this test creates once the page is open and paused; the Rust side
//                  then records the live event and rejection
//   EYE_CHROMIUM   the browser (default /usr/bin/chromium)
//   EYE_SCREENSHOT where to save a PNG of the whole page (optional)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { chromium } from "playwright-core";
import { env, watch } from "./common.mjs";

const server = new URL(env("EYE_URL"));
const readKey = env("EYE_READ_KEY");
const expected = JSON.parse(env("EYE_EXPECTED"));
const pageOpen = env("EYE_PAGE_OPEN");
const executablePath = env("EYE_CHROMIUM", "/usr/bin/chromium");
const screenshot = process.env.EYE_SCREENSHOT;
const KEY_ITEM = "the-eye:read-key";

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
});

/**
 * Opens `/` in a fresh context (empty storage, Paris time) and records every request (HTTP and
 * websocket), failed response, console error or warning and uncaught exception.
 */
async function openDashboard(viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, timezoneId: expected.timeZone, locale: "en-GB" });
  const page = await context.newPage();
  const seen = watch(page);
  await page.goto(server.href, { waitUntil: "load" });
  return { context, page, seen };
}

/** Types the key into the form and waits for the dashboard's first chart. */
async function enterKey(page, key = readKey) {
  await page.fill("#key-input", key);
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("#chart canvas");
}

/** Shows the recorded range: custom local date-times, hourly, split by category. */
async function showRecordedRange(page) {
  await page.selectOption("#range", "custom");
  await page.fill("#from", expected.range.from);
  await page.fill("#to", expected.range.to);
  await page.selectOption("#bucket", "HOUR");
  await page.selectOption("#split", "CATEGORY");
  const answered = page.waitForResponse((r) => r.url().endsWith("/graphql") && r.request().postData()?.includes("eventSeries"));
  await page.click("#series-form button[type=submit]");
  await answered;
  await page.waitForFunction(
    (starts) => JSON.parse(document.querySelector("#chart").dataset.series ?? "{}").starts?.[0] === starts,
    expected.series.starts[0],
  );
}

/** A top list as [key, count] pairs. */
const topList = (page, id) =>
  page.$$eval(`#${id} li[data-key]`, (items) => items.map((li) => [li.dataset.key, Number(li.dataset.count)]));

test("the key is asked for once and kept in this tab's sessionStorage only", async () => {
  const { context, page, seen } = await openDashboard();
  assert.equal(page.url(), new URL("/dashboard", server).href);
  assert.equal(await page.isVisible("#key-form"), true);
  await page.fill("#key-input", "eye_not_a_key");
  await page.click("#key-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#key-error").textContent !== "");
  assert.match(await page.textContent("#key-error"), /^The key was refused: /);
  assert.equal(await page.isVisible("#dashboard"), false);

  await enterKey(page);
  assert.equal(await page.isVisible("#key-form"), false);
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), KEY_ITEM), readKey);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  await page.reload({ waitUntil: "load" });
  await page.waitForSelector("#chart canvas");
  assert.equal(await page.isVisible("#key-form"), false);

  await page.click("#forget-key");
  assert.equal(await page.isVisible("#key-form"), true);
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), KEY_ITEM), null);
  assert.deepEqual(seen.errors, []);
  await context.close();
});

test("chart, top lists, session explorer and live tail show the recorded events", async () => {
  const { context, page, seen } = await openDashboard();
  await enterKey(page);

  // The chart: exactly the recorded counts per local hour and category, drawn on a canvas.
  await showRecordedRange(page);
  const series = JSON.parse(await page.getAttribute("#chart", "data-series"));
  assert.deepEqual(series, expected.series);
  assert.equal(await page.locator("#chart canvas").count(), 1);
  assert.equal(await page.textContent("#series-error"), "");

  // The top lists of the same range.
  // Each list is filled by its own request: wait for all three before reading any.
  await page.waitForFunction(() =>
    ["top-categories", "top-names", "top-sessions"].every(
      (id) => document.querySelectorAll(`#${id} li[data-key]`).length > 0,
    ),
  );
  assert.deepEqual(await topList(page, "top-categories"), expected.tops.categories);
  assert.deepEqual(await topList(page, "top-names"), expected.tops.names);
  assert.deepEqual(await topList(page, "top-sessions"), expected.tops.sessions);

  // The session explorer, opened from the top sessions: the events in time order with data.
  await page.click(`#top-sessions li[data-key="${expected.session.id}"] button`);
  await page.waitForSelector("#session-events li[data-id]");
  assert.equal(await page.inputValue("#session-id"), expected.session.id);
  const shown = await page.$$eval("#session-events > li", (items) =>
    items.map((li) => ({ id: li.dataset.id, data: JSON.parse(li.querySelector("pre").textContent) })),
  );
  assert.deepEqual(shown, expected.session.events);
  assert.match(await page.textContent("#session-summary"), new RegExp(`^${expected.session.events.length} events from `));

  // The live tail: the rejection recorded before the page opened is listed; paused, what is
  // recorded now waits; resumed, it appears on top.
  await page.waitForFunction((mode) => document.querySelector("#live").dataset.mode === mode, expected.live.mode);
  assert.deepEqual(await rejectionCodes(page), [expected.live.earlierRejection]);
  await page.click("#pause");
  assert.equal(await page.textContent("#pause"), "Resume");
  writeFileSync(pageOpen, "open");
  await page.waitForFunction(() => document.querySelector("#live-status").textContent === "paused, 2 new waiting", null, { timeout: 20_000 });
  assert.equal(await page.locator(`#live-events li[data-id="${expected.live.eventId}"]`).count(), 0);
  await page.click("#pause");
  await page.waitForSelector(`#live-events li[data-id="${expected.live.eventId}"]`);
  assert.equal(await page.getAttribute("#live-events > li:first-child", "data-id"), expected.live.eventId);
  assert.deepEqual(await rejectionCodes(page), [expected.live.laterRejection, expected.live.earlierRejection]);

  const elsewhere = seen.requests.filter((u) => new URL(u).host !== server.host);
  assert.deepEqual(elsewhere, []);
  assert.equal(server.hostname, "127.0.0.1");
  const paths = new Set(seen.requests.map((u) => new URL(u).pathname));
  const used = ["/dashboard", "/graphql", "/dashboard/assets/uPlot.iife.min.js", "/dashboard/assets/live.js"];
  if (expected.live.mode === "subscriptions") used.push("/graphql/ws");
  for (const path of used) {
    assert.ok(paths.has(path), `${path} was not requested: ${[...paths]}`);
  }
  assert.deepEqual(seen.failures, []);
  assert.deepEqual(seen.errors, []);
  if (screenshot) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: screenshot, fullPage: true });
  }
  await context.close();
});

/** The first reason's code of each listed rejection, newest first. */
const rejectionCodes = (page) =>
  page.$$eval("#live-rejections > li", (items) => items.map((li) => li.querySelector("[data-code]").dataset.code));

test("without a websocket, the live tail polls every two seconds", async () => {
  const { context, page, seen } = await openDashboard();
  await page.routeWebSocket(/\/graphql\/ws$/, (socket) => socket.close({ code: 1011, reason: "test" }));
  const polls = [];
  page.on("request", (r) => r.postData()?.includes("DashboardRecent") && polls.push(Date.now()));
  await enterKey(page);
  await page.waitForFunction(() => document.querySelector("#live").dataset.mode === "polling");
  assert.equal(await page.textContent("#live-status"), "polling every 2 s");
  const deadline = Date.now() + 20_000;
  while (polls.length < 3 && Date.now() < deadline) await page.waitForTimeout(250);
  assert.ok(polls.length >= 3, "the recent events and rejections are asked for again and again");
  assert.equal(await page.getAttribute("#live-events > li:first-child", "data-id"), expected.live.eventId);
  assert.deepEqual(seen.errors, []);
  await context.close();
});

test("the page fits a phone's screen", async () => {
  const { context, page, seen } = await openDashboard({ width: 390, height: 844 });
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.equal(await overflow(), 0);
  await enterKey(page);
  await showRecordedRange(page);
  await page.fill("#session-id", expected.session.id);
  await page.click("#session-form button[type=submit]");
  await page.waitForSelector("#session-events li[data-id]");
  await page.waitForSelector("#live-events li[data-id]");
  assert.equal(await overflow(), 0);
  const canvas = await page.locator("#chart canvas").boundingBox();
  assert.ok(canvas.width > 200 && canvas.x + canvas.width <= 390, `canvas: ${JSON.stringify(canvas)}`);
  assert.deepEqual(seen.errors, []);
  await context.close();
});
