// Small DOM and formatting helpers shared by every view. Every number leaves here with its unit.

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "hidden") node.hidden = true;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child != null && child !== false) node.append(child);
  return node;
}

export const money = (x) => (typeof x === "number" ? "$" + x.toFixed(2) : "-");
export const secs = (x) => (x == null || x === "" ? "-" : trim(Number(x)) + " s");
export const count = (x) => String(Math.round(x || 0));
export const pct = (x) => (x == null ? "-" : (x * 100).toFixed(x < 0.1 ? 1 : 0) + " %");

export function trim(x) {
  return String(Math.round((x || 0) * 100) / 100);
}

export function duration(s) {
  if (s == null) return "-";
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 90) return trim(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return trim(s / 3600) + " h";
}

export function bytes(n) {
  if (n == null) return "-";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

export const localTime = (unix) => (unix ? new Date(unix * 1000).toLocaleString() : "");

export function ago(unix, now = Date.now() / 1000) {
  if (!unix) return "-";
  const d = Math.max(0, now - unix);
  if (d < 45) return "just now";
  if (d < 5400) return Math.round(d / 60) + " min ago";
  if (d < 129600) return Math.round(d / 3600) + " h ago";
  return Math.round(d / 86400) + " days ago";
}

// A <time> showing "3 min ago" with the local time on hover (and to screen readers).
export function timeEl(unix) {
  if (!unix) return el("span", { text: "-" });
  return el("time", { datetime: new Date(unix * 1000).toISOString(), title: localTime(unix), text: ago(unix) });
}

export function table(caption, headers, rows) {
  const head = el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })));
  return el(
    "div",
    { className: "scroll" },
    el("table", {}, el("caption", { className: "sr-only", text: caption }), el("thead", {}, head), el("tbody", {}, ...rows)),
  );
}

export const row = (...cells) => el("tr", {}, ...cells.map((c) => (c instanceof Node ? c : el("td", { text: String(c) }))));
