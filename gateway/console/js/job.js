// One job: the video playing, what was adapted and why, its segments and their provider, webhook
// deliveries, feedback, and the lines that fetch it.
import { apiJson, blobUrl, errorText, thumbnailInto } from "./api.js";
import { $, el, localTime, money, row, secs, table, timeEl } from "./dom.js";

let shown = { id: null, url: null, status: null, extra: [] };

// "seconds=5->8(trimmed to 5)" -> field, from, to, why
function explain(item) {
  const m = item.match(/^([\w.]+)=(.*?)->(.*?)(?:\((.*)\))?$/);
  if (!m) return el("li", { text: item });
  return el("li", {}, el("code", { text: m[1] }), " " + m[2] + " → " + m[3], m[4] ? el("span", { className: "muted", text: " — " + m[4] }) : null);
}

function facts(v) {
  const dl = el("dl", { className: "facts" });
  const add = (k, value) => dl.append(el("dt", { text: k }), el("dd", { id: "job-facts-" + k }, value instanceof Node ? value : String(value)));
  add("status", v.status.replace("_", " ") + (v.status === "in_progress" || v.status === "queued" ? " (" + (v.progress || 0) + " %)" : ""));
  if (v.tenant) add("team", v.tenant);
  add("created", el("span", {}, timeEl(v.created_at), " (" + localTime(v.created_at) + ")"));
  if (v.completed_at) add("took", secs(v.completed_at - v.created_at));
  add("length", secs(v.seconds));
  add("size", v.size ? v.size.replace("x", "×") + " px" : "-");
  add("model", v.model + (v.upstream_model && v.upstream_model !== v.model ? " (" + v.upstream_model + " upstream)" : ""));
  add("provider", v.provider + (v.route && v.route !== v.provider ? " via " + v.route : ""));
  add("cost", money(v.cost_usd));
  if (v.cache) add("cache", v.cache);
  if (v.error) add("error", v.error.message || v.error.code || "failed");
  return dl;
}

// a batch's variations side by side, a story's scenes in order: each a card with its own thumbnail
function card(item, label, current) {
  let img = el("img", { className: "thumb big", alt: "" });
  if (item.content_base && item.has_thumbnail) thumbnailInto(img, item);
  else if (item.content_base && item.has_video && item.status === "completed") {
    // no thumbnail variant (the gateway could not derive one): its own first frame
    img = el("video", { className: "thumb big", muted: true, preload: "metadata", "aria-hidden": "true" });
    blobUrl(item.content_base + "/content?variant=video").then((url) => { if (url) { img.src = url; shown.extra.push(url); } });
  }
  const rating = item.rating_mean != null ? item.rating_mean + " / 5 (" + item.ratings + (item.ratings === 1 ? " rating)" : " ratings)") : item.ratings === 0 ? "not rated" : null;
  return el(
    "li",
    { className: "card" + (current ? " current" : ""), "data-id": item.id || "" },
    img,
    item.id ? el("a", { href: "#/jobs/" + encodeURIComponent(item.id), text: label, "aria-current": current ? "page" : null }) : el("span", { text: label }),
    el("span", { className: "status-" + item.status, text: item.status.replace("_", " ") + (item.cost_usd != null ? ", " + money(item.cost_usd) : "") }),
    rating ? el("span", { className: "rating muted", text: rating }) : null,
    item.prompt ? el("span", { className: "muted small", text: item.prompt }) : null,
  );
}

function related(v) {
  const parts = [];
  if (v.batch) {
    parts.push(el("h3", { text: "Variations of this batch (" + v.batch.variations.length + ")" }));
    parts.push(el("ol", { className: "cards", id: "variations" }, ...v.batch.variations.map((x, i) => card(x, "variation " + (i + 1), x.id === v.id))));
  }
  if (v.story) {
    parts.push(el("h3", { text: "Scenes, in order (" + v.story.scenes.length + "); this video is the stitched film" }));
    parts.push(el("ol", { className: "cards", id: "scenes" }, ...v.story.scenes.map((x) => card(x, "scene " + x.scene, false))));
  }
  if (v.story_id) parts.push(el("p", {}, "A scene of ", el("a", { href: "#/jobs/" + encodeURIComponent(v.story_id), text: "its story (the stitched film)" }), "."));
  return parts;
}

function release() {
  // stop the old player before its object URL goes: a detached <video> still reads a revoked blob (a 404)
  const old = $("job-player");
  if (old) { old.pause(); old.removeAttribute("src"); old.load(); }
  for (const v of document.querySelectorAll("#job-body video.thumb")) { v.removeAttribute("src"); v.load(); }
  for (const url of shown.extra) URL.revokeObjectURL(url);
  shown.extra = [];
  if (shown.url) { URL.revokeObjectURL(shown.url); shown.url = null; }
}

async function render(v) {
  release();
  const body = $("job-body");
  const player = el("video", { id: "job-player", controls: true, playsinline: true, "aria-label": "the video" });
  const media = v.status === "completed" ? player : el("p", { className: "muted", text: "The video plays here once it is completed." });
  const adapted = v.cache === "hit" ? ["answered from the cache: an identical video made earlier, at no cost"]
    : v.cache === "coalesced" ? ["joined an identical create already running: one generation, paid once"] : v.adapted || [];
  const segs = (v.segments || []).map((s) => row(String(s.index + 1), s.kind, secs(s.seconds), s.status, s.provider + (s.route && s.route !== s.provider ? " (" + s.route + ")" : ""), String(s.attempts), s.upstream_id || "-"));
  const hooks = (v.webhook_deliveries || []).map((d) => row(d.event, d.url, d.status + (d.attempts ? " after " + d.attempts + " attempts" : ""), d.last_error || "-"));
  const notes = (v.feedback || []).map((f) => row(f.rating + " / 5", Object.entries(f.scores || {}).map(([k, x]) => k.replaceAll("_", " ") + " " + x + " / 10").join(", ") || "-", f.comment || "-"));
  body.replaceChildren(...[
    el("div", { className: "job-top" }, el("div", { className: "media" }, media), facts(v)),
    el("h3", { text: "Prompt" }), el("p", { className: "prompt-full", text: v.prompt }),
    v.enhanced_prompt ? el("p", { className: "muted prompt-full", text: "enhanced: " + v.enhanced_prompt }) : null,
    ...related(v),
    el("h3", { text: "What the gateway adapted" }),
    adapted.length ? el("ul", { className: "adapted-list" }, ...adapted.map(explain)) : el("p", { className: "muted", text: "Nothing: made as asked." }),
    el("h3", { text: "Segments" }),
    segs.length ? table("Segments", ["#", "kind", "length", "status", "provider", "attempts", "upstream id"], segs) : el("p", { className: "muted", text: "No upstream generation of its own." }),
    el("h3", { text: "Webhook deliveries" }),
    hooks.length ? table("Webhook deliveries", ["event", "to", "status", "last error"], hooks) : el("p", { className: "muted", text: "None: no callback_url and no team webhook." }),
    el("h3", { text: "Feedback" }),
    notes.length ? table("Feedback", ["rating", "scores", "comment"], notes) : el("p", { className: "muted", text: "Not rated yet." }),
    el("h3", { text: "Fetch it" }),
    el("pre", { className: "fetch" }, el("code", { text: v.fetch.curl })),
    el("pre", { className: "fetch" }, el("code", { text: v.fetch.python })),
  ].filter(Boolean));
  if (v.status === "completed") {
    const url = await blobUrl(v.content_base + "/content?variant=video");
    if (url) { shown.url = url; player.src = url; player.dataset.videoId = v.id; }
  }
}

const FINAL = ["completed", "failed"];

export async function showJob(id, live = false) {
  if (live && shown.id === id && FINAL.includes(shown.status)) return; // a finished job changes no more
  const result = await apiJson("/v1/gateway/console/jobs/" + encodeURIComponent(id));
  if (!result.ok) { $("job-title").textContent = "Video " + id; $("job-body").replaceChildren(el("p", { className: "error", text: errorText(result) })); return; }
  const v = result.body;
  // live updates redraw only while it changes state (not under a playing video)
  if (live && shown.id === id && shown.status === v.status && v.status !== "in_progress" && v.status !== "queued") return;
  shown.id = id; shown.status = v.status;
  $("job-title").textContent = v.prompt ? "“" + v.prompt.slice(0, 80) + (v.prompt.length > 80 ? "…" : "") + "”" : v.id;
  await render(v);
}
