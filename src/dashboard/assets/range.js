// The range form shared by the chart and the top lists: a preset ("last 24 hours") or a custom
// pair of local date-times, a bucket size and a split.

const HOUR_MS = 3600 * 1000;

/** The browser's IANA time zone, which days and hours of the chart follow. */
export const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** Wires the form: custom fields appear with "Custom", prefilled with the current range. */
export function setUpRangeForm(form) {
  const range = form.querySelector("#range");
  range.addEventListener("change", () => {
    const custom = range.value === "custom";
    if (custom) {
      const { from, to } = presetRange(24);
      form.querySelector("#from").value = localInput(from);
      form.querySelector("#to").value = localInput(to);
    }
    form.querySelectorAll(".custom").forEach((label) => (label.hidden = !custom));
  });
}

/** What the form asks for: `{from, to, bucket, splitBy}` (dates as `Date`). */
export function readRange(form) {
  const preset = form.querySelector("#range").value;
  const { from, to } =
    preset === "custom"
      ? { from: new Date(form.querySelector("#from").value), to: new Date(form.querySelector("#to").value) }
      : presetRange(Number(preset));
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    throw new Error("choose both ends of the range");
  }
  if (from >= to) throw new Error("the range must end after it starts");
  const splitBy = form.querySelector("#split").value || null;
  return { from, to, bucket: form.querySelector("#bucket").value, splitBy };
}

/** The last `hours` hours up to now. */
function presetRange(hours) {
  const to = new Date();
  return { from: new Date(to.getTime() - hours * HOUR_MS), to };
}

/** `date` as a `datetime-local` value in the browser's zone. */
function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/**
 * The filter of `eventCounts` for the half-open range `[from, to)` of the chart: its `to` is
 * inclusive, and instants are kept to the microsecond, so it ends one microsecond earlier.
 */
export function countsFilter({ from, to }) {
  const last = new Date(to.getTime() - 1).toISOString().replace("Z", "999Z");
  return { from: from.toISOString(), to: last };
}
