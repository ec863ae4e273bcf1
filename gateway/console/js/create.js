// The create form: pickers filled from /v1/models for this team's providers, one create in flight at a time.
import { api, apiJson, errorText } from "./api.js";
import { $, el } from "./dom.js";

let models = [];

function fill(select, values, chosen, blank) {
  const options = values.map((v) => el("option", { value: String(v), text: String(v) }));
  if (blank) options.unshift(el("option", { value: "", text: blank }));
  select.replaceChildren(...options);
  if (chosen != null && values.map(String).includes(String(chosen))) select.value = String(chosen);
}

function caps(model) {
  const found = models.find((m) => m.id === model) || models[0];
  return (found && found.capabilities) || {};
}

function refreshPickers() {
  const c = caps($("model").value);
  const max = c.max_seconds || 20;
  const lengths = new Set([...(c.clip_seconds || [4, 8, 12]), 5, 10, 15, 20, 30, 60].filter((s) => s <= max));
  fill($("seconds"), [...lengths].sort((a, b) => a - b), $("seconds").value || 4);
  fill($("size"), c.sizes || ["1280x720", "720x1280"], $("size").value || "1280x720");
  fill($("style"), c.style_presets || [], $("style").value, "none");
}

export async function loadModels() {
  const result = await apiJson("/v1/models");
  models = result.ok ? (result.body.data || []).filter((m) => m.capabilities) : [];
  const names = models.map((m) => m.id);
  fill($("model"), names.length ? names : ["sora-2"], names.includes("sora-2") ? "sora-2" : names[0]);
  refreshPickers();
}

function newIdempotencyKey() {
  // randomUUID needs a secure context (https or localhost); plain http on a LAN address still has getRandomValues
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
}

function say(text, kind) {
  const out = $("create-result");
  out.textContent = text;
  out.className = kind || "";
  out.setAttribute("role", kind === "error" ? "alert" : "status");
}

export function setupCreate(onCreated) {
  $("model").addEventListener("change", refreshPickers);
  $("create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("create-button");
    if (button.disabled) return; // one create in flight at a time: a double click must not pay twice
    const fields = {};
    const prompt = $("prompt").value.trim();
    for (const [name, id] of [["seconds", "seconds"], ["size", "size"], ["model", "model"], ["style_preset", "style"], ["negative_prompt", "negative"]]) {
      const value = $(id).value.trim();
      if (value) fields[name] = value;
    }
    if ($("enhance").checked) fields.enhance_prompt = true;
    const scenes = $("story-scenes").value.split("\n").map((l) => l.trim()).filter(Boolean);
    const n = Number($("batch-n").value || 1);
    let path = "/v1/videos";
    if (scenes.length) { // a story: every scene as long as the length picked, one film
      path = "/v1/gateway/stories";
      fields.scenes = scenes.map((p) => ({ prompt: p, seconds: Number(fields.seconds) }));
      delete fields.seconds;
    } else if (!prompt) {
      say("Refused: write a prompt (or story scenes).", "error");
      return;
    } else if (n > 1) {
      path = "/v1/gateway/batches";
      Object.assign(fields, { prompt, n });
    } else {
      fields.prompt = prompt;
    }
    // a fresh key per create: if the answer is lost, the gateway has the video under this key, not a second one
    const key = newIdempotencyKey();
    button.disabled = true;
    say("creating...");
    try {
      let response;
      try {
        response = await api(path, {
          method: "POST",
          headers: { "Content-Type": "application/json", "Idempotency-Key": key },
          body: JSON.stringify(fields),
        });
      } catch (e) {
        say("No answer from the gateway; the video may exist: see the list below.", "error");
        onCreated();
        return;
      }
      let body = null;
      try { body = await response.json(); } catch (e) { body = null; }
      if (!response.ok) { say("Refused: " + errorText({ status: response.status, body }), "error"); return; }
      const adapted = response.headers.get("x-sora-gateway-adapted");
      const what = path.endsWith("batches") ? "batch " : path.endsWith("stories") ? "story " : "";
      say("created " + what + body.id + (adapted ? " (adapted: " + adapted + ")" : ""), "ok");
      onCreated();
    } finally {
      button.disabled = false;
    }
  });
}
