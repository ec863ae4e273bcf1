// Jobs: every job the key may see, filtered on the server, paged with the cursor it returns.
import { apiJson, errorText, isAdmin, query } from "./api.js";
import { $, el } from "./dom.js";
import { jobRow } from "./rows.js";

const state = { filters: {}, cursor: null, rows: [], loading: false, options: false, status: "" };

function unix(value) {
  return value ? String(Math.floor(new Date(value).getTime() / 1000)) : "";
}

function readFilters() {
  const f = $("filters");
  return {
    q: f.q.value.trim(),
    status: f.status.value,
    provider: f.provider.value,
    model: f.model.value,
    tenant: isAdmin() ? f.tenant.value : "",
    since: unix(f.since.value),
    until: unix(f.until.value),
  };
}

async function page(reset) {
  if (state.loading) return;
  state.loading = true;
  if (!state.rows.length) $("jobs-status").textContent = "loading...";
  try {
    const result = await apiJson("/v1/gateway/console/jobs" + query({ ...state.filters, limit: 25, cursor: reset ? null : state.cursor }));
    if (!result.ok) { $("jobs-status").textContent = errorText(result); return; }
    const body = result.body;
    const rows = reset ? body.data : state.rows.concat(body.data);
    const same = JSON.stringify(rows) === JSON.stringify(state.rows) && body.next_cursor === state.cursor;
    state.rows = rows;
    state.cursor = body.next_cursor;
    if (same && $("job-rows").children.length === rows.length) { $("jobs-status").textContent = state.status; return; }
    $("job-rows").replaceChildren(...state.rows.map((v) => jobRow(v, { onPlay: (video) => { location.hash = "#/jobs/" + encodeURIComponent(video.id); } })));
    $("jobs-more").hidden = !state.cursor;
    const shown = state.rows.length + (state.rows.length === 1 ? " job" : " jobs");
    state.status = state.cursor ? shown + " shown; more further back" : shown + (state.rows.length ? ", all shown" : ": none match");
    $("jobs-status").textContent = state.status;
  } finally {
    state.loading = false;
  }
}

// provider, model and team pickers: from the providers the gateway lists for this key
async function loadOptions() {
  if (state.options) return;
  state.options = true;
  const f = $("filters");
  const providers = new Set();
  const models = new Set(["sora-2", "sora-2-pro"]);
  if (isAdmin()) { // the admin key has no team: the providers' own list
    const tiles = await apiJson("/v1/gateway/console/providers");
    for (const t of tiles.ok ? tiles.body.data || [] : []) { providers.add(t.profile); t.models.forEach((m) => models.add(m)); }
  } else {
    const listed = await apiJson("/v1/models");
    for (const m of listed.ok ? listed.body.data || [] : []) {
      models.add(m.id);
      for (const s of m.maps_to || []) providers.add(s.upstream_profile);
    }
  }
  for (const p of [...providers].filter(Boolean).sort()) f.provider.append(el("option", { value: p, text: p }));
  for (const m of [...models].sort()) f.model.append(el("option", { value: m, text: m }));
  if (isAdmin()) {
    const usage = await apiJson("/v1/gateway/admin/usage");
    if (usage.ok) for (const t of usage.body.data || []) f.tenant.append(el("option", { value: t.tenant, text: t.tenant }));
  }
}

export async function showJobs() {
  await loadOptions();
  state.filters = readFilters();
  await page(true);
}

// live: refresh what is shown (the first pages again) without losing the place
export async function refreshJobs() {
  if (state.rows.length <= 25) await page(true);
}

export function setupJobs() {
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); state.filters = readFilters(); page(true); });
  $("filters").addEventListener("reset", () => setTimeout(() => { state.filters = readFilters(); page(true); }, 0));
  for (const name of ["status", "provider", "model", "tenant"]) {
    $("filters")[name].addEventListener("change", () => { state.filters = readFilters(); page(true); });
  }
  $("jobs-more").addEventListener("click", () => page(false));
}
