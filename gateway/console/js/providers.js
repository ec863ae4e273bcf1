// Providers at a glance (admin): one tile per configured upstream, amber and red when something is off.
import { apiJson, errorText } from "./api.js";
import { $, count, duration, el, money, pct, secs } from "./dom.js";

const WORDS = { ok: "healthy", amber: "degraded", red: "down" };

function tile(p) {
  const dl = el("dl", { className: "facts" });
  const add = (k, v) => dl.append(el("dt", { text: k }), el("dd", { text: v }));
  add("profile", p.profile);
  add("detected", p.detected ? "yes" : "no" + (p.error ? ": " + p.error : ""));
  add("breaker", p.breaker.replace("_", " ") + (p.failures_in_a_row ? " (" + p.failures_in_a_row + " failures in a row)" : ""));
  add("latency p50", p.latency_p50_s == null ? "-" : "≤ " + duration(p.latency_p50_s));
  add("error rate", p.calls ? pct(p.error_rate) + " of " + count(p.calls) + " calls" : "no calls yet");
  const q = p.queue;
  add("queue", count(q.running) + " running, " + count(q.waiting) + " waiting" + (q.limit ? ", limit " + q.limit + (q.limit_source ? " (" + q.limit_source + ")" : "") : ""));
  add("spend, last day", money(p.spend_usd_today) + " for " + secs(p.video_seconds_today));
  add("jobs, last day", count(p.completed_today) + " completed, " + count(p.failed_today) + " failed");
  return el(
    "article",
    { className: "tile level-" + p.level, "data-provider": p.name, "aria-label": p.name + ": " + WORDS[p.level] },
    el("h3", {}, el("span", { text: p.name }), el("span", { className: "badge " + (p.level === "ok" ? "ok" : p.level === "red" ? "bad" : "warn"), text: WORDS[p.level] })),
    dl,
  );
}

export async function showProviders() {
  const result = await apiJson("/v1/gateway/console/providers");
  if (!result.ok) { $("provider-tiles").replaceChildren(el("p", { className: "error", text: errorText(result) })); return; }
  $("provider-tiles").replaceChildren(...(result.body.data || []).map(tile));
}
