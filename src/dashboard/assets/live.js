// The live tail of events and of rejections with their reasons, newest first. Subscriptions
// (`eventRecorded`, `eventRejected`) over the websocket when the server accepts it; otherwise,
// or once the websocket closes, `events` (newest timestamps first) and `eventErrors` are polled
// every two seconds. A subscription that fell too far behind (`LAGGED`) catches up with one
// poll and subscribes again. Paused, new items wait and are counted, and appear on resume.
// The section's `data-mode` says which is running: "subscriptions" or "polling".

import { el, json, localTime } from "./dom.js";

const EVENT = "id sessionId category name data timestamp receivedAt application { name }";
const ERROR = `id receivedAt application { name } index eventId sessionId category name payload
  reasons { code message path }`;
const RECENT = `query DashboardRecent($first: Int) {
  events(order: TIMESTAMP_DESC, first: $first) { edges { node { ${EVENT} } } }
  eventErrors(first: $first) { edges { node { ${ERROR} } } }
}`;
const RECORDED = `subscription DashboardRecorded { eventRecorded { ${EVENT} } }`;
const REJECTED = `subscription DashboardRejected { eventRejected { ${ERROR} } }`;

/** Items kept in each list. */
const KEEP = 50;
const POLL_MS = 2000;

/** The live panel: `start()` fills it and keeps it current; `stop()` ends that. */
export function createLive(api, { section, pause, status, events, rejections }, openSession) {
  const eventFeed = feed(events, (e) => eventItem(e, openSession));
  const errorFeed = feed(rejections, rejectionItem);
  let paused = false;
  let client = null;
  let timer = null;
  let stopped = false;

  function setMode(mode, detail) {
    section.dataset.mode = mode;
    status.dataset.detail = detail ?? "";
    render();
  }

  function render() {
    const waiting = eventFeed.pending() + errorFeed.pending();
    const how = section.dataset.mode === "subscriptions" ? "live" : "polling every 2 s";
    status.textContent = paused ? `paused, ${waiting} new waiting` : how;
    pause.textContent = paused ? "Resume" : "Pause";
  }

  pause.addEventListener("click", () => {
    paused = !paused;
    if (!paused) [eventFeed, errorFeed].forEach((f) => f.flush());
    render();
  });

  /** Adds newest-first lists of events and rejections. */
  function add(newEvents, newErrors) {
    eventFeed.add(newEvents, paused);
    errorFeed.add(newErrors, paused);
    render();
  }

  async function poll() {
    const data = await api.query(RECENT, { first: 20 });
    const nodes = (connection) => connection.edges.map((edge) => edge.node);
    add(nodes(data.events), nodes(data.eventErrors));
  }

  function startPolling(reason) {
    if (stopped || timer) return;
    setMode("polling", reason);
    timer = setInterval(() => poll().catch((e) => setMode("polling", e.message)), POLL_MS);
  }

  async function subscribe() {
    client = await api.subscriptions();
    if (stopped) return client.close();
    const failed = (error) => {
      client?.close();
      startPolling(error.message);
    };
    const follow = (queryText, onData) =>
      client.subscribe(queryText, {}, {
        next: onData,
        // Fell too far behind (the server ended the subscription): catch up and follow again.
        error: (error) => {
          if (error.code !== "LAGGED") return failed(error);
          poll().catch(failed);
          follow(queryText, onData);
        },
      });
    follow(RECORDED, (d) => add([d.eventRecorded], []));
    follow(REJECTED, (d) => add([], [d.eventRejected]));
    client.onclose = (event) => startPolling(`the websocket closed (${event.code})`);
    setMode("subscriptions");
  }

  return {
    async start() {
      await poll();
      await subscribe().catch((error) => startPolling(error.message));
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      client?.close();
    },
  };
}

/** A list of at most KEEP items, newest first, each shown once (by id). */
function feed(list, render) {
  const seen = new Set();
  let waiting = [];
  function show(items) {
    for (const item of items.slice().reverse()) list.prepend(render(item));
    while (list.children.length > KEEP) list.lastElementChild.remove();
  }
  return {
    add(items, paused) {
      const fresh = items.filter((item) => !seen.has(item.id));
      fresh.forEach((item) => seen.add(item.id));
      if (paused) waiting = fresh.concat(waiting);
      else show(fresh);
    },
    flush() {
      show(waiting);
      waiting = [];
    },
    pending: () => waiting.length,
  };
}

function eventItem(event, openSession) {
  const session = el("button", { type: "button", class: "key" }, event.sessionId);
  session.addEventListener("click", () => openSession(event.sessionId));
  return el(
    "li",
    { "data-id": event.id },
    el("div", { class: "line" },
      el("time", { datetime: event.timestamp }, localTime(event.timestamp)),
      el("strong", {}, `${event.category} / ${event.name}`),
      el("span", { class: "muted" }, event.application.name),
    ),
    el("div", { class: "line" }, "session ", session),
    el("pre", { class: "data" }, json(event.data)),
  );
}

function rejectionItem(error) {
  const what = [error.category, error.name].filter(Boolean).join(" / ") || "(no type)";
  return el(
    "li",
    { "data-id": error.id },
    el("div", { class: "line" },
      el("time", { datetime: error.receivedAt }, localTime(error.receivedAt)),
      el("strong", {}, what),
      el("span", { class: "muted" }, `${error.application.name}, event ${error.index}`),
    ),
    el("ul", { class: "reasons" },
      ...error.reasons.map((r) =>
        el("li", { "data-code": r.code }, el("code", {}, r.code), ` ${r.path ?? ""}: ${r.message}`),
      ),
    ),
  );
}
