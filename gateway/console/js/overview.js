// Overview: recent videos (live), usage against limits, charts over time, savings, refusals, feedback.
import { apiJson, blobUrl, errorText, isAdmin } from "./api.js";
import { barChart, namedBars } from "./chart.js";
import { $, count, el, money, row, secs, table, trim } from "./dom.js";
import { jobRow } from "./rows.js";

let lastRows = "";
let playing = null;

export async function loadRecent() {
  const result = await apiJson("/v1/gateway/console/jobs?limit=10");
  if (!result.ok) return;
  const videos = result.body.data || [];
  const key = JSON.stringify(videos);
  if (key === lastRows) return; // unchanged: keep the DOM (and keyboard focus) as it is
  lastRows = key;
  $("video-rows").replaceChildren(...videos.map((v) => jobRow(v, { onPlay: playVideo })));
  $("videos-empty").hidden = videos.length > 0;
}

export async function playVideo(video, player = $("player"), title = $("player-title")) {
  if (player === $("player")) $("player-panel").hidden = false;
  title.textContent = video.id;
  const url = await blobUrl(video.content_base + "/content?variant=video");
  if (!url) { title.textContent = video.id + " (could not be loaded)"; return; }
  if (playing) URL.revokeObjectURL(playing);
  playing = url;
  player.src = url;
  player.dataset.videoId = video.id;
  try { await player.play(); } catch (e) { /* autoplay may be refused; the controls still work */ }
}

// -- usage against the limits (right now) ---------------------------------------------------
function meter(label, used, limit, format) {
  const shown = format(used) + (limit != null ? " of " + format(limit) : " (no limit)");
  const box = el("div", { className: "meter" }, el("div", { text: label + ": " + shown }));
  if (limit) {
    const share = Math.min(1, used / limit);
    const fill = el("div", { className: "fill" + (share > 0.9 ? " high" : share > 0.7 ? " warn" : "") });
    fill.style.width = (share * 100).toFixed(1) + "%";
    box.append(el("div", { className: "bar", role: "meter", "aria-label": label, "aria-valuemin": "0", "aria-valuemax": String(limit), "aria-valuenow": String(used) }, fill));
  }
  return box;
}

function usageBlock(u) {
  const used = u.usage || {};
  const limits = u.limits || {};
  return el(
    "div",
    { className: "tenant-usage", "data-tenant": u.tenant },
    el("h3", { text: u.tenant }),
    meter("Spend this month", used.spend_usd_this_month || 0, limits.budget_usd_per_month, money),
    meter("Video seconds today", used.video_seconds_today || 0, limits.video_seconds_per_day, (x) => trim(x) + " s"),
    meter("Running jobs", used.concurrent_jobs || 0, limits.concurrent_jobs, count),
    meter("Requests last minute", used.requests_last_minute || 0, limits.requests_per_minute, (x) => count(x) + " req"),
  );
}

export async function loadUsage() {
  const result = await apiJson(isAdmin() ? "/v1/gateway/admin/usage" : "/v1/gateway/usage");
  if (!result.ok) { $("usage-body").replaceChildren(el("p", { className: "muted", text: errorText(result) })); return; }
  const list = isAdmin() ? result.body.data || [] : [result.body];
  $("usage-body").replaceChildren(...list.map(usageBlock));
  const picker = $("range-team");
  if (isAdmin() && picker.options.length === 1) for (const u of list) picker.append(el("option", { value: u.tenant, text: u.tenant }));
}

// -- over time ----------------------------------------------------------------------------------
const RANGE_NAMES = { hour: "last hour", day: "last day", "30d": "last 30 days" };
export const currentRange = () => (document.querySelector("input[name=range]:checked") || {}).value || "day";

export async function loadSeries() {
  const range = currentRange();
  const team = isAdmin() ? $("range-team").value : "";
  const result = await apiJson("/v1/gateway/console/usage?range=" + range + (team ? "&tenant=" + encodeURIComponent(team) : ""));
  if (!result.ok) { $("charts").replaceChildren(el("p", { className: "muted", text: errorText(result) })); return; }
  const s = result.body;
  const budget = s.budget.usd_per_month;
  const common = { buckets: s.buckets, step: s.step_s };
  const monthly = budget != null ? "budget " + money(budget) + " / month" : null;
  $("charts").replaceChildren(
    barChart({ id: "chart-spend", title: "Spend (USD), " + RANGE_NAMES[range], value: (b) => b.spend_usd, format: money, total: s.totals.spend_usd, ...common }),
    barChart({ id: "chart-requests", title: "Requests", value: (b) => b.requests, format: (x) => count(x) + " req", total: s.totals.requests, integer: true, ...common }),
    barChart({ id: "chart-seconds", title: "Video generated", value: (b) => b.video_seconds, format: secs, total: s.totals.video_seconds, ...common }),
    barChart({ id: "chart-saved", title: "Saved by cache and coalescing", value: (b) => b.saved_usd, format: money, total: s.totals.saved_usd, ...common }),
    el("p", { id: "budget-line", className: "muted" , text:
      "Spent this month: " + money(s.budget.spent_usd_this_month) + (monthly ? " of the " + monthly : " (no budget)") }),
  );
  renderSavings(s);
  renderRefusals(s);
}

function renderSavings(s) {
  const teams = Object.entries(s.teams).filter(([, t]) => t.saved_usd || t.cache_hits || t.coalesced).sort();
  if (!teams.length) { $("savings-body").replaceChildren(el("p", { className: "muted", text: "Nothing saved in this range yet." })); return; }
  const rows = teams.map(([name, t]) => row(name, money(t.saved_usd || 0), count(t.cache_hits) + (t.cache_hits === 1 ? " hit" : " hits"), count(t.coalesced) + " joined"));
  $("savings-body").replaceChildren(
    el("p", {}, el("strong", { text: money(s.totals.saved_usd) }), " saved: " + count(s.totals.cache_hits) + " cache hits, " + count(s.totals.coalesced) + " coalesced creates"),
    table("Savings per team", ["team", "saved", "cache hits", "coalesced"], rows),
  );
}

function renderRefusals(s) {
  const entries = Object.entries(s.refusals).sort((a, b) => b[1] - a[1]);
  $("refusals-body").replaceChildren(
    entries.length ? namedBars(entries.map(([k, v]) => [k.replaceAll("_", " "), v]), (x) => count(x) + " refused") : el("p", { className: "muted", text: "No refusals in this range." }),
  );
}

// -- feedback (hidden while the endpoint answers 404) -------------------------------------------
export async function loadFeedback() {
  const group = isAdmin() ? "tenant" : "model";
  const result = await apiJson("/v1/gateway/feedback/summary?group_by=" + group);
  $("feedback").hidden = !result.ok;
  if (!result.ok) return;
  const data = result.body.data || [];
  if (!data.length) { $("feedback-body").replaceChildren(el("p", { className: "muted", text: "No ratings yet." })); return; }
  const rows = data.map((g) => row(g.group, count(g.count) + (g.count === 1 ? " rating" : " ratings"), g.rating_mean != null ? trim(g.rating_mean) + " / 5" : "-",
    Object.entries(g.scores || {}).map(([k, v]) => k.replaceAll("_", " ") + " " + trim(typeof v === "object" ? v.mean : v) + " / 10").join(", ") || "-"));
  $("feedback-body").replaceChildren(table("Feedback by " + group, [group, "ratings", "mean rating", "mean scores"], rows));
}

// -- admin: readiness, summarised ---------------------------------------------------------------
export async function loadReady() {
  let body = null;
  try { body = await (await fetch("/readyz", { cache: "no-store" })).json(); } catch (e) { body = { status: "unreachable", checks: {} }; }
  const ready = body.status === "ready";
  $("ready-status").className = "badge " + (ready ? "ok" : "bad");
  $("ready-status").textContent = body.status;
  const items = Object.entries(body.checks || {}).map(([name, check]) => {
    const ok = !(check && check.ok === false);
    const detail = check && (check.error || check.backend || check.upstream || check.url || "");
    return el("li", { "data-check": name }, el("span", { className: "badge " + (ok ? "ok" : "bad"), text: ok ? "ok" : "failing" }), " " + name + (detail ? ": " + detail : ""));
  });
  $("ready-checks").replaceChildren(...items);
}
