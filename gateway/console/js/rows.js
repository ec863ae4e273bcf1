// One row of a job table (the overview's recent videos and the jobs view share it).
import { isAdmin, thumbnailInto } from "./api.js";
import { el, money, secs, timeEl } from "./dom.js";

function statusCell(video) {
  const td = el("td", { className: "status status-" + video.status });
  td.append(el("span", { className: "state", text: video.status.replace("_", " ") }));
  if (video.status === "queued" || video.status === "in_progress") {
    const p = video.progress || 0;
    td.append(" ", el("progress", { max: "100", value: String(p), "aria-label": "progress" }), el("span", { className: "pct", text: " " + p + " %" }));
  }
  if (video.status === "failed" && video.error) td.append(el("span", { className: "why", text: video.error.message || video.error.code || "" }));
  return td;
}

function adaptedText(video) {
  if (video.cache === "hit") return "from the cache";
  if (video.cache === "coalesced") return "joined an identical running create";
  if (video.remixed_from_video_id) return "remix of " + video.remixed_from_video_id;
  return (video.adapted || []).join("; ");
}

export function jobRow(video, { onPlay } = {}) {
  const img = el("img", { className: "thumb", alt: "" });
  thumbnailInto(img, video);
  const link = el("a", { href: "#/jobs/" + encodeURIComponent(video.id), className: "prompt", text: video.prompt || video.id });
  const adapted = adaptedText(video);
  const videoCell = el(
    "td",
    { className: "video" },
    link,
    el("span", { className: "id", text: video.id }),
    adapted ? el("span", { className: "adapted", title: adapted, text: adapted }) : null,
  );
  const play = el("button", { type: "button", className: "link play", text: "Play", "aria-label": "Play " + (video.prompt || video.id) });
  play.hidden = video.status !== "completed";
  if (onPlay) play.addEventListener("click", () => onPlay(video));
  return el(
    "tr",
    { "data-id": video.id, "data-status": video.status, "data-tenant": video.tenant || "" },
    el("td", { className: "thumbcell" }, img),
    videoCell,
    isAdmin() ? el("td", { className: "team", text: video.tenant || "" }) : null,
    statusCell(video),
    el("td", { className: "created" }, timeEl(video.created_at)),
    el("td", { className: "opt length", text: secs(video.seconds) }),
    el("td", { className: "opt size", text: video.size ? video.size.replace("x", "×") + " px" : "-" }),
    el("td", { className: "opt provider", text: video.provider || "-" }),
    el("td", { className: "cost", text: money(video.cost_usd) }),
    el("td", {}, play),
  );
}
