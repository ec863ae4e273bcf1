// sora-gateway console: ES modules, no dependencies, no build step.
// Views by location hash: #/ overview, #/jobs, #/jobs/<id>, #/providers (admin). Short polls keep the
// visible view live; nothing is polled while the tab is hidden.
import { apiJson, dropKey, errorText, forgetMedia, isAdmin, keepKey, savedKey, session } from "./api.js";
import { loadModels, setupCreate } from "./create.js";
import { $ } from "./dom.js";
import { showJob } from "./job.js";
import { refreshJobs, setupJobs, showJobs } from "./jobs.js";
import { loadFeedback, loadReady, loadRecent, loadSeries, loadUsage } from "./overview.js";
import { showProviders } from "./providers.js";

const POLL_MS = 2000;
let timer = null;
let tick = 0;
let busy = false;

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  if (hash.startsWith("jobs/")) return { view: "job", id: decodeURIComponent(hash.slice(5)) };
  if (hash === "jobs") return { view: "jobs" };
  if (hash === "providers" && isAdmin()) return { view: "providers" };
  return { view: "overview" };
}

async function load(first) {
  const r = route();
  const slow = first || tick % 5 === 0; // charts, feedback and health change slowly
  if (r.view === "overview") {
    await Promise.all([loadRecent(), loadUsage(), slow ? loadSeries() : null, slow ? loadFeedback() : null, slow && isAdmin() ? loadReady() : null]);
  } else if (r.view === "jobs") {
    await (first ? showJobs() : refreshJobs());
  } else if (r.view === "job") {
    await showJob(r.id, !first);
  } else if (r.view === "providers") {
    await showProviders();
  }
}

async function poll() {
  if (busy || document.hidden || !session.key) return;
  busy = true;
  tick++;
  try { await load(false); } finally { busy = false; }
}

async function show() {
  const r = route();
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== "view-" + r.view;
  for (const link of document.querySelectorAll("#nav a")) {
    const current = link.dataset.view === r.view || (r.view === "job" && link.dataset.view === "jobs");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  busy = true;
  try { await load(true); } finally { busy = false; }
}

async function signIn(key) {
  session.key = key;
  const who = await apiJson("/v1/gateway/console/whoami");
  if (who.ok) return enter(who.body.role, who.body.tenant);
  session.key = null;
  dropKey();
  $("signin-error").textContent = errorText(who);
  return false;
}

async function enter(role, tenant) {
  session.role = role;
  keepKey();
  document.body.classList.toggle("admin", role === "admin");
  $("signin").hidden = true;
  $("app").hidden = false;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = role === "admin" ? "signed in as admin (all teams)" : "signed in with a team key (" + tenant + ")";
  $("signin-error").textContent = "";
  if (role !== "admin") loadModels();
  await show();
  timer = setInterval(poll, POLL_MS);
  return true;
}

function signOut() {
  dropKey();
  clearInterval(timer);
  forgetMedia();
  location.hash = "";
  location.reload();
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("api-key").value.trim();
  $("api-key").value = "";
  if (key) signIn(key);
});
$("sign-out").addEventListener("click", signOut);
$("range").addEventListener("change", () => loadSeries()); // a range or, for the admin, a team
window.addEventListener("hashchange", () => { if (session.key) show().then(() => $("main").focus({ preventScroll: true })); });
setupCreate(() => { loadRecent(); loadUsage(); });
setupJobs();
const saved = savedKey();
if (saved) signIn(saved);
