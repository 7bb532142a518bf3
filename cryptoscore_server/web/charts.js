// SVG charts drawn from API numbers: accuracy with its Wilson 95% interval, and confusion
// matrices as heatmaps. Each chart is an image with a text alternative; the numbers it draws
// are in the page's tables too.

import { count, fraction, interval } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) {
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let chartIds = 0;

function chart(width, height, title, description) {
  chartIds += 1;
  const titleId = `chart-title-${chartIds}`;
  const descId = `chart-desc-${chartIds}`;
  return s(
    "svg",
    {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-labelledby": `${titleId} ${descId}`,
      preserveAspectRatio: "xMinYMin meet",
    },
    s("title", { id: titleId }, title),
    s("desc", { id: descId }, description),
  );
}

/** Tick positions between lo and hi: steps of 0.01, 0.02, 0.05, 0.1 or 0.2. */
function ticks(lo, hi) {
  const step = [0.01, 0.02, 0.05, 0.1, 0.2].find((st) => (hi - lo) / st <= 6) || 0.25;
  const out = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9; t += step) out.push(+t.toFixed(4));
  return out;
}

/**
 * Accuracy (dot) and its 95% interval (bar with caps), one line per row, in the order given.
 * rows: [{rank, participant, accuracy, accuracy_low, accuracy_high}]
 */
export function intervalPlot(rows, caption, width = 640) {
  // drawn at the width it is shown at, so its text stays readable on a phone
  const labelWidth = Math.round(Math.min(150, width * 0.3));
  const lineHeight = 26;
  const top = 12;
  const axisHeight = 44;
  const height = top + rows.length * lineHeight + axisHeight;
  let lo = Math.min(...rows.map((r) => r.accuracy_low));
  let hi = Math.max(...rows.map((r) => r.accuracy_high));
  const pad = Math.max(0.01, (hi - lo) * 0.08);
  lo = Math.max(0, Math.floor((lo - pad) * 50) / 50);
  hi = Math.min(1, Math.ceil((hi + pad) * 50) / 50);
  const plotWidth = width - labelWidth - 24;
  const x = (v) => labelWidth + ((v - lo) / (hi - lo || 1)) * plotWidth;
  const svg = chart(
    width,
    height,
    caption,
    rows
      .map((r) => `${r.rank}. ${r.participant}: ${fraction(r.accuracy)} ${interval(r.accuracy_low, r.accuracy_high)}`)
      .join("; "),
  );
  svg.classList.add("interval-plot");
  const axisY = top + rows.length * lineHeight + 4;
  for (const t of ticks(lo, hi)) {
    svg.append(
      s("line", { x1: x(t), x2: x(t), y1: top - 4, y2: axisY, class: "grid" }),
      s("text", { x: x(t), y: axisY + 16, class: "tick", "text-anchor": "middle" }, t.toFixed(2)),
    );
  }
  svg.append(
    s("text", { x: labelWidth + plotWidth / 2, y: axisY + 30, class: "axis-label", "text-anchor": "middle" },
      "accuracy and its 95% interval"),
  );
  rows.forEach((r, i) => {
    const y = top + i * lineHeight + lineHeight / 2;
    const label = `${r.rank}. ${r.participant}`;
    const g = s("g", {
      class: "interval-row",
      "data-participant": r.participant,
      "data-accuracy": r.accuracy,
      "data-low": r.accuracy_low,
      "data-high": r.accuracy_high,
    });
    g.append(
      s("title", {}, `${label}: ${fraction(r.accuracy)} ${interval(r.accuracy_low, r.accuracy_high)}`),
      s("text", { x: labelWidth - 8, y: y + 4, class: "row-label", "text-anchor": "end" },
        label.length > labelWidth / 7 ? `${label.slice(0, Math.floor(labelWidth / 7) - 1)}…` : label),
      s("line", { x1: x(r.accuracy_low), x2: x(r.accuracy_high), y1: y, y2: y, class: "bar" }),
      s("line", { x1: x(r.accuracy_low), x2: x(r.accuracy_low), y1: y - 6, y2: y + 6, class: "bar" }),
      s("line", { x1: x(r.accuracy_high), x2: x(r.accuracy_high), y1: y - 6, y2: y + 6, class: "bar" }),
      s("circle", { cx: x(r.accuracy), cy: y, r: 5, class: "dot" }),
    );
    svg.append(g);
  });
  return svg;
}

/** The K×K confusion counts of released values (`confusion:<predicted>:<label>`), or null. */
export function confusionOf(values, classes) {
  if (!values || !(`confusion:0:0` in values)) return null;
  const grid = [];
  for (let label = 0; label < classes; label += 1) {
    grid.push([]);
    for (let predicted = 0; predicted < classes; predicted += 1) {
      grid[label].push(values[`confusion:${predicted}:${label}`]);
    }
  }
  return grid;
}

/**
 * A heatmap of a confusion matrix: rows are the true labels, columns the predictions; each
 * cell's shade is its share of its row (the label's items), its count written in it.
 */
export function heatmap(grid, title) {
  const k = grid.length;
  const cell = k <= 4 ? 56 : Math.max(18, Math.floor(300 / k));
  const left = 54;
  const top = 46;
  const width = left + k * cell + 8;
  const height = top + k * cell + 8;
  const svg = chart(
    width,
    height,
    title,
    grid.map((row, label) => `label ${label}: ${row.map((v, p) => `predicted ${p} ${count(v)}`).join(", ")}`).join("; "),
  );
  svg.classList.add("heatmap");
  svg.style.maxWidth = `${width}px`;
  svg.append(
    s("text", { x: left + (k * cell) / 2, y: 14, class: "axis-label", "text-anchor": "middle" }, "predicted"),
    s("text", { x: 12, y: top + (k * cell) / 2, class: "axis-label", "text-anchor": "middle",
      transform: `rotate(-90 12 ${top + (k * cell) / 2})` }, "true label"),
  );
  const showText = cell >= 28;
  for (let i = 0; i < k; i += 1) {
    svg.append(
      s("text", { x: left + i * cell + cell / 2, y: top - 8, class: "tick", "text-anchor": "middle" }, i),
      s("text", { x: left - 8, y: top + i * cell + cell / 2 + 4, class: "tick", "text-anchor": "end" }, i),
    );
  }
  grid.forEach((row, label) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((value, predicted) => {
      const share = value / total;
      const g = s("g", { class: "cell", "data-label": label, "data-predicted": predicted, "data-count": value });
      g.append(
        s("title", {}, `label ${label}, predicted ${predicted}: ${count(value)} (${(share * 100).toFixed(1)}% of label ${label})`),
        s("rect", {
          x: left + predicted * cell, y: top + label * cell, width: cell - 2, height: cell - 2,
          fill: shade(share), class: label === predicted ? "diag" : "off",
        }),
      );
      if (showText) {
        g.append(s("text", {
          x: left + predicted * cell + cell / 2 - 1, y: top + label * cell + cell / 2 + 4,
          "text-anchor": "middle", class: share > 0.5 ? "count dark" : "count",
        }, count(value)));
      }
      svg.append(g);
    });
  });
  return svg;
}

/** From near-white (0) to the brand blue (1). */
function shade(share) {
  const from = [244, 247, 251];
  const to = [29, 78, 137];
  const mix = from.map((c, i) => Math.round(c + (to[i] - c) * share));
  return `rgb(${mix.join(",")})`;
}
