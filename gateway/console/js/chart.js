// Hand-drawn SVG charts: bars over time with labelled axes, every value with its unit.
// No library: a few dozen bars need no more, and the page stays free of third-party code.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) if (c != null) node.append(c);
  return node;
}

function tickLabel(start, step) {
  const d = new Date(start * 1000);
  if (step < 3600) return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (step < 86400) return d.toLocaleTimeString([], { hour: "2-digit" });
  return d.toLocaleDateString([], { month: "short", day: "numeric" });
}

function niceMax(x) {
  if (x <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 2.5, 5, 10]) if (x <= m * p) return m * p;
  return 10 * p;
}

// buckets: [{start, ...}], value(bucket) -> number, format(number) -> text with its unit.
// limit: an optional horizontal line (a budget share), drawn and labelled.
export function barChart({ id, title, buckets, step, value, format, total, limit, limitLabel, integer }) {
  const W = 480, H = 170, L = 52, R = 8, T = 10, B = 26;
  const values = buckets.map(value);
  const peak = niceMax(Math.max(...values, limit || 0));
  const top = integer ? Math.max(2, Math.ceil(peak / 2) * 2) : peak; // whole numbers on every grid line
  const plotW = W - L - R, plotH = H - T - B;
  const bw = plotW / Math.max(1, buckets.length);
  const y = (v) => T + plotH - (v / top) * plotH;
  const summary = title + ": " + format(total) + " in this range";
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary, class: "chart", preserveAspectRatio: "xMidYMid meet" });
  root.append(svg("title", {}, summary));
  for (const frac of [0, 0.5, 1]) {
    const v = top * frac;
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    const label = svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" });
    label.textContent = format(v);
    root.append(label);
  }
  values.forEach((v, i) => {
    if (!v) return;
    const h = Math.max(1, (v / top) * plotH);
    const bar = svg("rect", { x: L + i * bw + bw * 0.12, y: T + plotH - h, width: Math.max(1, bw * 0.76), height: h, class: "bar" });
    const tip = svg("title");
    tip.textContent = tickLabel(buckets[i].start, step) + ": " + format(v);
    bar.append(tip);
    root.append(bar);
  });
  if (limit) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(limit), y2: y(limit), class: "limit" }));
    const t = svg("text", { x: W - R, y: y(limit) - 3, "text-anchor": "end", class: "axis limit-label" });
    t.textContent = limitLabel || format(limit);
    root.append(t);
  }
  const ticks = 4;
  for (let k = 0; k <= ticks; k++) {
    const i = Math.min(buckets.length - 1, Math.round((k * (buckets.length - 1)) / ticks));
    const x = L + i * bw + bw / 2;
    const t = svg("text", { x, y: H - 8, "text-anchor": k === 0 ? "start" : k === ticks ? "end" : "middle", class: "axis" });
    t.textContent = tickLabel(buckets[i].start, step);
    root.append(t);
  }
  const figure = document.createElement("figure");
  figure.className = "figure";
  if (id) figure.id = id;
  figure.dataset.total = String(total);
  const caption = document.createElement("figcaption");
  const name = document.createElement("span");
  name.textContent = title;
  const sum = document.createElement("strong");
  sum.className = "total";
  sum.textContent = format(total);
  caption.append(name, " ", sum);
  figure.append(caption, root);
  return figure;
}

// Horizontal bars for a few named values (refusals by reason).
export function namedBars(entries, format) {
  const list = document.createElement("ul");
  list.className = "hbars";
  const top = Math.max(1, ...entries.map(([, v]) => v));
  for (const [name, v] of entries) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const meter = document.createElement("span");
    meter.className = "hbar";
    const fill = document.createElement("span");
    fill.style.width = ((v / top) * 100).toFixed(1) + "%";
    meter.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = format(v);
    item.append(label, meter, value);
    list.append(item);
  }
  return list;
}
