// The key lives in this tab's sessionStorage and travels only in the Authorization header:
// media is fetched as blobs with that header and shown through object URLs, never ?key= URLs.

const KEY_SLOT = "sora-gateway-console-key";
export const session = { key: null, role: null };

export const savedKey = () => sessionStorage.getItem(KEY_SLOT);
export const keepKey = () => sessionStorage.setItem(KEY_SLOT, session.key);
export const dropKey = () => sessionStorage.removeItem(KEY_SLOT);
export const isAdmin = () => session.role === "admin";

export function api(path, options = {}) {
  const headers = { Authorization: "Bearer " + session.key, ...(options.headers || {}) };
  return fetch(path, { ...options, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
}

export async function apiJson(path, options) {
  let response;
  try {
    response = await api(path, options);
  } catch (e) {
    return { ok: false, status: 0, body: null, headers: null };
  }
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  return { ok: response.ok, status: response.status, body, headers: response.headers };
}

export function errorText(result) {
  const error = result.body && result.body.error;
  return (error && error.message) || (result.status ? "HTTP " + result.status : "no answer from the gateway");
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== "") q.set(k, v);
  const text = q.toString();
  return text ? "?" + text : "";
}

// -- media as blobs ---------------------------------------------------------------------------
const thumbs = new Map(); // video id -> object URL, "" while loading, null when there is none

export async function blobUrl(path) {
  const response = await api(path);
  if (!response.ok) return null;
  return URL.createObjectURL(await response.blob());
}

export function thumbnailInto(img, video, onLoad) {
  const known = thumbs.get(video.id);
  if (known) { img.src = known; return; }
  if (known !== undefined || video.status !== "completed" || !video.has_thumbnail) return;
  thumbs.set(video.id, "");
  blobUrl(video.content_base + "/content?variant=" + video.thumbnail_variant).then((url) => {
    thumbs.set(video.id, url);
    if (url) { img.src = url; if (onLoad) onLoad(); }
  });
}

export function forgetMedia() {
  for (const url of thumbs.values()) if (url) URL.revokeObjectURL(url);
  thumbs.clear();
}
