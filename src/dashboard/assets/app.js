// Starts the dashboard (src/dashboard.rs): asks for a read key once per tab, keeps it in
// sessionStorage, checks it, then starts the panels. A refused key brings the form back.

import { KEY_REFUSED, createApi } from "./api.js";
import { createChart } from "./chart.js";
import { showError } from "./dom.js";
import { createLive } from "./live.js";
import { readRange, setUpRangeForm } from "./range.js";
import { createSession } from "./session.js";
import { createTops } from "./tops.js";

const config = JSON.parse(document.getElementById("the-eye-config").textContent);
const KEY = "the-eye:read-key";
const $ = (id) => document.getElementById(id);
const CHECK = "query DashboardCheck { events(first: 1) { pageInfo { hasNextPage } } }";

let live = null;

function askForKey(message) {
  live?.stop();
  live = null;
  sessionStorage.removeItem(KEY);
  $("dashboard").hidden = true;
  $("forget-key").hidden = true;
  $("key-form").hidden = false;
  $("key-error").textContent = message ?? "";
  $("key-input").focus();
}

async function open(key) {
  const api = createApi(config, key, (message) => askForKey(`The key was refused: ${message}`));
  try {
    await api.query(CHECK);
  } catch (error) {
    // A refused key has already brought the form back, with the server's reason.
    if (!KEY_REFUSED.includes(error.code)) askForKey(`The server could not be asked: ${error.message}`);
    return;
  }
  sessionStorage.setItem(KEY, key);
  $("key-form").hidden = true;
  $("dashboard").hidden = false;
  $("forget-key").hidden = false;
  start(api);
}

function start(api) {
  const session = createSession(api, {
    input: $("session-id"),
    summary: $("session-summary"),
    list: $("session-events"),
    more: $("session-more"),
  });
  const openSession = (id) => {
    showSession(session, id);
    $("session").scrollIntoView({ behavior: "smooth" });
  };
  const chart = createChart(api, { container: $("chart"), summary: $("series-summary") });
  const tops = createTops(
    api,
    { categories: $("top-categories"), names: $("top-names"), sessions: $("top-sessions") },
    openSession,
  );
  live = createLive(
    api,
    {
      section: $("live"),
      pause: $("pause"),
      status: $("live-status"),
      events: $("live-events"),
      rejections: $("live-rejections"),
    },
    openSession,
  );
  const form = $("series-form");
  const refresh = () => showRange(form, chart, tops);
  form.onsubmit = (event) => {
    event.preventDefault();
    refresh();
  };
  $("session-form").onsubmit = (event) => {
    event.preventDefault();
    showSession(session, $("session-id").value.trim());
  };
  refresh();
  live.start().catch((error) => ($("live-status").textContent = error.message));
}

async function showRange(form, chart, tops) {
  let range;
  try {
    range = readRange(form);
  } catch (error) {
    return showError($("series-error"), error);
  }
  showError($("series-error"), null);
  showError($("tops-error"), null);
  await Promise.all([
    chart.show(range).catch((error) => showError($("series-error"), error)),
    tops.show(range).catch((error) => showError($("tops-error"), error)),
  ]);
}

async function showSession(session, id) {
  showError($("session-error"), null);
  await session.show(id).catch((error) => showError($("session-error"), error));
}

setUpRangeForm($("series-form"));
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  open($("key-input").value.trim());
  $("key-input").value = "";
});
$("forget-key").addEventListener("click", () => askForKey());
const stored = sessionStorage.getItem(KEY);
if (stored) open(stored);
else askForKey();
