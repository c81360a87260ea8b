// The largest categories, names and sessions in the chart's range (`eventCounts`). A session
// opens in the session explorer.

import { el } from "./dom.js";
import { countsFilter } from "./range.js";

const COUNTS = `query DashboardTop($groupBy: CountDimension!, $filter: EventFilter, $first: Int) {
  eventCounts(groupBy: $groupBy, filter: $filter, first: $first) {
    edges { node { key count } }
    pageInfo { hasNextPage }
  }
}`;

/** How many of each are listed. */
const TOP = 10;

/** The top lists: `show(range)` queries and lists; `openSession(id)` is a session's click. */
export function createTops(api, { categories, names, sessions }, openSession) {
  async function list(groupBy, element, range, onPick) {
    const data = await api.query(COUNTS, { groupBy, filter: countsFilter(range), first: TOP });
    const nodes = data.eventCounts.edges.map((edge) => edge.node);
    const largest = Math.max(1, ...nodes.map((node) => node.count));
    element.replaceChildren(
      ...nodes.map((node) => {
        const bar = el("span", { class: "bar" });
        bar.style.width = `${(100 * node.count) / largest}%`;
        const key = el(onPick ? "button" : "span", { class: "key" }, node.key);
        if (onPick) key.addEventListener("click", () => onPick(node.key));
        const count = el("span", { class: "count" }, String(node.count));
        return el("li", { "data-key": node.key, "data-count": node.count }, bar, key, count);
      }),
    );
    if (nodes.length === 0) element.append(el("li", { class: "empty" }, "none"));
  }

  function show(range) {
    return Promise.all([
      list("CATEGORY", categories, range),
      list("NAME", names, range),
      list("SESSION", sessions, range, openSession),
    ]);
  }

  return { show };
}
