// Events over time: `eventSeries` for the chosen range, drawn with uPlot (a global from the
// vendored uPlot.iife.min.js). The plotted numbers are also kept on the chart element's
// `data-series` attribute (JSON), so a test reads exactly what is drawn.

import { timeZone } from "./range.js";

const SERIES = `query DashboardSeries($bucket: BucketSize!, $from: DateTime!, $to: DateTime!,
    $timeZone: String, $splitBy: SeriesDimension, $top: Int) {
  eventSeries(bucket: $bucket, from: $from, to: $to, timeZone: $timeZone, splitBy: $splitBy, top: $top) {
    bucket timeZone
    groups { key total }
    points { start end total groups other }
  }
}`;

/** Groups drawn apart when splitting; the rest is one "other" line. */
const TOP_GROUPS = 6;
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7];
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#6b7280"];

/** The chart panel: `show(range)` queries and draws. */
export function createChart(api, { container, summary }) {
  let plot = null;
  new ResizeObserver(() => plot?.setSize(size(container))).observe(container);

  async function show(range) {
    const data = await api.query(SERIES, {
      bucket: range.bucket,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      timeZone,
      splitBy: range.splitBy,
      top: range.splitBy ? TOP_GROUPS : null,
    });
    const series = data.eventSeries;
    const lines = linesOf(series);
    const total = series.points.reduce((sum, p) => sum + p.total, 0);
    container.dataset.series = JSON.stringify({
      bucket: series.bucket,
      timeZone: series.timeZone,
      starts: series.points.map((p) => p.start),
      lines,
    });
    summary.textContent =
      `${total} events, ${series.points.length} ${series.bucket.toLowerCase()} buckets ` +
      `(${series.timeZone})`;
    plot?.destroy();
    plot = new uPlot(options(lines, container), [series.points.map((p) => Date.parse(p.start) / 1000), ...lines.map((l) => l.values)], container);
  }

  return { show };
}

/** The lines to draw: the total, or one per group plus "other" when it holds anything. */
function linesOf(series) {
  if (series.groups.length === 0) {
    return [{ label: "Events", values: series.points.map((p) => p.total) }];
  }
  const lines = series.groups.map((group, i) => ({
    label: group.key,
    values: series.points.map((p) => p.groups[i]),
  }));
  const other = series.points.map((p) => p.other);
  if (other.some((n) => n > 0)) lines.push({ label: "other", values: other });
  return lines;
}

function options(lines, container) {
  return {
    ...size(container),
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    series: [
      {},
      ...lines.map((line, i) => ({
        label: line.label,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        points: { show: true, size: 5 },
      })),
    ],
    // Counts are whole: no tick between 0 and 1.
    axes: [{}, { size: 50, incrs: COUNT_STEPS }],
  };
}

function size(container) {
  const width = Math.max(200, container.clientWidth);
  return { width, height: width < 600 ? 200 : 280 };
}
