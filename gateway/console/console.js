// sora-gateway console: plain JavaScript, no dependencies, no build step.
// The key lives in this tab's sessionStorage and travels only in the Authorization header:
// media is fetched as blobs with that header and shown through object URLs, never ?key= URLs.
"use strict";

const KEY_SLOT = "sora-gateway-console-key";
const REFRESH_MS = 1500;
const state = { key: null, role: null, timer: null, thumbs: new Map(), playing: null, videos: [] };
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const headers = { Authorization: "Bearer " + state.key, ...(options.headers || {}) };
  return fetch(path, { ...options, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
}

async function apiJson(path, options) {
  const response = await api(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  return { ok: response.ok, status: response.status, body };
}

function errorText(result) {
  const error = result.body && result.body.error;
  return (error && error.message) || "HTTP " + result.status;
}

const money = (x) => (typeof x === "number" ? "$" + x.toFixed(2) : "-");

// -- sign in --------------------------------------------------------------------------------
async function signIn(key) {
  state.key = key;
  const admin = await apiJson("/v1/gateway/admin/usage");
  if (admin.ok) return enter("admin");
  const team = await apiJson("/v1/videos?limit=1");
  if (team.ok) return enter("team");
  state.key = null;
  sessionStorage.removeItem(KEY_SLOT);
  $("signin-error").textContent = errorText(team);
  return false;
}

function enter(role) {
  state.role = role;
  sessionStorage.setItem(KEY_SLOT, state.key);
  document.body.classList.toggle("admin", role === "admin");
  $("signin").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = role === "admin" ? "signed in as admin (all teams)" : "signed in with a team key";
  $("signin-error").textContent = "";
  refresh();
  state.timer = setInterval(refresh, REFRESH_MS);
  return true;
}

function signOut() {
  sessionStorage.removeItem(KEY_SLOT);
  clearInterval(state.timer);
  for (const url of state.thumbs.values()) if (url) URL.revokeObjectURL(url);
  state.thumbs.clear();
  location.reload();
}

// -- refresh loop ---------------------------------------------------------------------------
let busy = false;
let tick = 0;
async function refresh() {
  if (busy || !state.key) return;
  busy = true;
  try {
    const slow = tick++ % 4 === 0; // feedback, health and savings change slowly
    await Promise.all([
      loadVideos(),
      loadUsage(),
      slow ? loadFeedback() : null,
      slow && state.role === "admin" ? loadHealth() : null,
      slow && state.role === "admin" ? loadSavings() : null,
    ]);
  } finally {
    busy = false;
  }
}

// -- videos ---------------------------------------------------------------------------------
async function loadVideos() {
  const path = state.role === "admin" ? "/v1/gateway/admin/videos?limit=20" : "/v1/videos?limit=20";
  const result = await apiJson(path);
  if (!result.ok) return;
  state.videos = result.body.data || [];
  renderVideos();
}

function contentPath(video, variant) {
  const base = state.role === "admin" ? "/v1/gateway/admin/videos/" : "/v1/videos/";
  return base + encodeURIComponent(video.id) + "/content?variant=" + variant;
}

async function blobUrl(video, variant) {
  const response = await api(contentPath(video, variant));
  if (!response.ok) return null;
  return URL.createObjectURL(await response.blob());
}

function thumbnail(video) {
  const img = el("img", { className: "thumb", alt: "" });
  if (video.status !== "completed") return img;
  const known = state.thumbs.get(video.id);
  if (known) img.src = known;
  else if (known === undefined) {
    state.thumbs.set(video.id, "");
    blobUrl(video, "thumbnail").then((url) => {
      state.thumbs.set(video.id, url || null);
      if (url) renderVideos();
    });
  }
  return img;
}

function statusCell(video) {
  const td = el("td", { className: "status-" + video.status });
  td.append(el("span", { className: "state", text: video.status }));
  if (video.status === "queued" || video.status === "in_progress") {
    const bar = el("progress", { max: "100", value: String(video.progress || 0) });
    td.append(" ", bar, el("span", { className: "pct", text: " " + (video.progress || 0) + "%" }));
  }
  if (video.status === "failed" && video.error) td.title = video.error.message || "";
  return td;
}

function renderVideos() {
  const rows = $("video-rows");
  rows.replaceChildren();
  for (const video of state.videos) {
    const play = el("button", { type: "button", className: "link play", text: "Play" });
    play.hidden = video.status !== "completed";
    play.addEventListener("click", () => playVideo(video));
    const tr = el(
      "tr",
      { "data-id": video.id, "data-status": video.status },
      el("td", {}, thumbnail(video)),
      el("td", { className: "id", text: video.id, title: video.prompt || "" }),
      el("td", { className: "admin-only", text: video.tenant || "" }),
      statusCell(video),
      el("td", { text: video.seconds ? video.seconds + " s" : "" }),
      el("td", { text: video.size || "" }),
      el("td", { className: "cost", text: money(video.cost_usd) }),
      el("td", { className: "adapted", text: (video.adapted || []).join("; ") || "-" }),
      el("td", {}, play),
    );
    rows.append(tr);
  }
  $("videos-empty").hidden = state.videos.length > 0;
}

async function playVideo(video) {
  const player = $("player");
  $("player-panel").hidden = false;
  $("player-title").textContent = video.id;
  const url = await blobUrl(video, "video");
  if (!url) {
    $("player-title").textContent = video.id + " (could not be loaded)";
    return;
  }
  if (state.playing) URL.revokeObjectURL(state.playing);
  state.playing = url;
  player.src = url;
  player.dataset.videoId = video.id;
  try { await player.play(); } catch (e) { /* autoplay may be refused; the controls still work */ }
}

// -- create ---------------------------------------------------------------------------------
function newIdempotencyKey() {
  // randomUUID needs a secure context (https or localhost); plain http on a LAN address still has getRandomValues
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
}

async function createVideo(event) {
  event.preventDefault();
  const button = $("create-button");
  if (button.disabled) return; // one create in flight at a time: a double click must not pay twice
  const fields = { prompt: $("prompt").value.trim() };
  for (const [name, id] of [["seconds", "seconds"], ["size", "size"], ["model", "model"], ["style_preset", "style"]]) {
    const value = $(id).value.trim();
    if (value) fields[name] = value;
  }
  // a fresh key per create: if the answer is lost, the gateway has the video under this key, not a second one
  const key = newIdempotencyKey();
  button.disabled = true;
  $("create-result").textContent = "creating...";
  try {
    let response;
    try {
      response = await api("/v1/videos", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": key },
        body: JSON.stringify(fields),
      });
    } catch (e) {
      $("create-result").textContent = "no answer from the gateway; the video may exist: see the list below";
      refresh();
      return;
    }
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      $("create-result").textContent = "refused: " + errorText({ status: response.status, body });
      return;
    }
    const adapted = response.headers.get("x-sora-gateway-adapted");
    $("create-result").textContent = "created " + body.id + (adapted ? " (adapted: " + adapted + ")" : "");
    refresh();
  } finally {
    button.disabled = false;
  }
}

// -- usage ----------------------------------------------------------------------------------
function meter(label, used, limit, format) {
  const shown = format(used) + (limit != null ? " of " + format(limit) : " (no limit)");
  const box = el("div", { className: "meter" }, el("div", { text: label + ": " + shown }));
  if (limit) {
    const share = Math.min(1, used / limit);
    const fill = el("div", { className: "fill" + (share > 0.9 ? " high" : "") });
    fill.style.width = (share * 100).toFixed(1) + "%";
    box.append(el("div", { className: "bar" }, fill));
  }
  return box;
}

function usageBlock(u) {
  const used = u.usage || {};
  const limits = u.limits || {};
  const n = (x) => String(Math.round((x || 0) * 100) / 100);
  return el(
    "div",
    { className: "tenant-usage", "data-tenant": u.tenant },
    el("h3", { text: u.tenant }),
    meter("Spend this month", used.spend_usd_this_month || 0, limits.budget_usd_per_month, money),
    meter("Video seconds today", used.video_seconds_today || 0, limits.video_seconds_per_day, (x) => n(x) + " s"),
    meter("Running jobs", used.concurrent_jobs || 0, limits.concurrent_jobs, n),
    meter("Requests last minute", used.requests_last_minute || 0, limits.requests_per_minute, n),
  );
}

async function loadUsage() {
  const admin = state.role === "admin";
  const result = await apiJson(admin ? "/v1/gateway/admin/usage" : "/v1/gateway/usage");
  const body = $("usage-body");
  if (!result.ok) {
    body.replaceChildren(el("p", { className: "muted", text: errorText(result) }));
    return;
  }
  const list = admin ? result.body.data || [] : [result.body];
  body.replaceChildren(...list.map(usageBlock));
}

// -- feedback (hidden while the endpoint answers 404) -----------------------------------------
async function loadFeedback() {
  const group = state.role === "admin" ? "tenant" : "model";
  const result = await apiJson("/v1/gateway/feedback/summary?group_by=" + group);
  $("feedback").hidden = !result.ok;
  if (result.ok) $("feedback-body").replaceChildren(tree(result.body));
}

// -- admin: /readyz rendered as it is, and savings from /metrics -----------------------------
const HEALTH_FLAGS = new Set(["ok", "valid", "up", "healthy", "ready"]);

function tree(value, key = "") {
  if (value === null || typeof value !== "object") {
    const text = value === null ? "-" : String(value);
    const flag = HEALTH_FLAGS.has(key) && typeof value === "boolean";
    const cls = flag ? (value ? "ok" : "bad") : "";
    return el("span", { className: cls, text });
  }
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) {
    return el("span", { text: value.length ? value.join(", ") : "-" });
  }
  const dl = el("dl", { className: "tree" });
  for (const [k, v] of Object.entries(value)) dl.append(el("dt", { text: k }), el("dd", {}, tree(v, k)));
  return dl;
}

async function loadHealth() {
  const response = await fetch("/readyz", { cache: "no-store" });
  let body = null;
  try { body = await response.json(); } catch (e) { body = { status: "HTTP " + response.status }; }
  const ready = body.status === "ready";
  $("ready-status").className = ready ? "ok" : "bad";
  $("ready-status").textContent = body.status;
  $("health-body").replaceChildren(tree(body.checks || body));
}

function parseMetrics(text, name) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    const match = line.match(/^[^{ ]+(?:\{(.*)\})?\s+(\S+)/);
    if (!match) continue;
    const labels = {};
    for (const part of (match[1] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[part[1]] = part[2];
    out.push({ labels, value: Number(match[2]) });
  }
  return out;
}

async function loadSavings() {
  const response = await fetch("/metrics", { cache: "no-store" });
  if (!response.ok) {
    $("savings-body").replaceChildren(el("p", { className: "muted", text: "/metrics is not reachable from here" }));
    return;
  }
  const text = await response.text();
  const perTenant = {};
  const row = (t) => (perTenant[t] = perTenant[t] || { saved: 0, hits: 0, coalesced: 0, absorbed: 0 });
  for (const m of parseMetrics(text, "sora_gateway_saved_usd_total")) row(m.labels.tenant).saved += m.value;
  for (const m of parseMetrics(text, "sora_gateway_cache_events_total")) {
    if (m.labels.outcome === "hit") row(m.labels.tenant).hits += m.value;
    if (m.labels.outcome === "coalesced") row(m.labels.tenant).coalesced += m.value;
  }
  for (const m of parseMetrics(text, "sora_gateway_polls_absorbed_total")) row(m.labels.tenant).absorbed += m.value;
  const tenants = Object.keys(perTenant).sort();
  if (!tenants.length) {
    $("savings-body").replaceChildren(el("p", { className: "muted", text: "nothing saved yet" }));
    return;
  }
  const head = el("tr", {}, ...["team", "saved", "cache hits", "coalesced", "polls absorbed"].map((t) => el("th", { text: t })));
  const rows = tenants.map((t) => {
    const r = perTenant[t];
    return el("tr", {}, el("td", { text: t }), el("td", { text: money(r.saved) }), el("td", { text: String(r.hits) }),
      el("td", { text: String(r.coalesced) }), el("td", { text: String(r.absorbed) }));
  });
  $("savings-body").replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows)));
}

// -- start ----------------------------------------------------------------------------------
$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  $("api-key").value = "";
  if (key) signIn(key);
});
$("create-form").addEventListener("submit", createVideo);
$("sign-out").addEventListener("click", signOut);
const saved = sessionStorage.getItem(KEY_SLOT);
if (saved) signIn(saved);
