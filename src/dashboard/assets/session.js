// The session explorer: a session's events in time order, with their data, a page at a time.

import { el, json, localTime } from "./dom.js";

const SESSION = `query DashboardSession($id: String!, $first: Int, $after: String) {
  session(id: $id) {
    id eventCount firstSeen lastSeen
    applications { name }
    events(first: $first, after: $after) {
      edges { node { id category name data timestamp application { name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

const PAGE = 100;

/** The explorer: `show(id)` lists the session's first events, "More events" the next ones. */
export function createSession(api, { input, summary, list, more }) {
  let current = null;

  async function load(id, after) {
    const data = await api.query(SESSION, { id, first: PAGE, after });
    const session = data.session;
    if (!session) {
      summary.textContent = `No events in session ${id}.`;
      list.replaceChildren();
      more.hidden = true;
      return;
    }
    const apps = session.applications.map((app) => app.name).join(", ");
    summary.textContent =
      `${session.eventCount} events from ${localTime(session.firstSeen)} to ` +
      `${localTime(session.lastSeen)}, sent by ${apps}`;
    const start = after ? list.children.length : 0;
    const items = session.events.edges.map((edge, i) => eventItem(edge.node, start + i + 1));
    if (after) list.append(...items);
    else list.replaceChildren(...items);
    current = { id, cursor: session.events.pageInfo.endCursor };
    more.hidden = !session.events.pageInfo.hasNextPage;
  }

  more.addEventListener("click", () => current && load(current.id, current.cursor));

  return {
    show(id) {
      input.value = id;
      return load(id, null);
    },
  };
}

function eventItem(event, position) {
  return el(
    "li",
    { "data-id": event.id },
    el("div", { class: "line" },
      el("span", { class: "position" }, `${position}.`),
      el("time", { datetime: event.timestamp }, localTime(event.timestamp)),
      el("strong", {}, `${event.category} / ${event.name}`),
      el("span", { class: "muted" }, event.application.name),
    ),
    el("pre", { class: "data" }, json(event.data)),
  );
}
