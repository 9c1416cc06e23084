// The admin REST API seen from the page: Bearer token from sessionStorage, typed errors.

const TOKEN_KEY = "disparo.token";
const BASE = "/admin/api";

/** An answer of the API that is not 2xx: `{"error": {"code", "message", "field"?}}`. */
export class ApiError extends Error {
  constructor(status, code, message, field, details) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.field = field || null;
    this.details = details || null;
  }
}

let unauthorizedHandler = () => {};

export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

async function toError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: keep the status alone
  }
  const err = body && body.error;
  if (err && typeof err === "object") {
    return new ApiError(response.status, err.code, err.message, err.field, err.details || err.errors);
  }
  // FastAPI's own validation errors: {"detail": [{"loc": [...], "msg"}]}
  if (body && Array.isArray(body.detail) && body.detail.length) {
    const first = body.detail[0];
    const loc = (first.loc || []).filter((part) => part !== "body" && part !== "query");
    return new ApiError(response.status, "invalid", first.msg, loc.join("."), body.detail);
  }
  const message = body && typeof body.detail === "string" ? body.detail : `HTTP ${response.status}`;
  return new ApiError(response.status, "http_" + response.status, message, null);
}

/** Call the API; resolves with the JSON body (or the Response when `raw`). */
export async function api(method, path, body, { raw = false, token = getToken(), signal } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, signal, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(BASE + path, init);
  if (!response.ok) {
    const error = await toError(response);
    if (response.status === 401) unauthorizedHandler(error);
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** Fetch `path` (with the token) and save it as `filename`: a CSV export. */
export async function download(path, filename) {
  const response = await api("GET", path, undefined, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** `?a=1&b=2` from an object, leaving out empty values. */
export function query(params) {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  return parts.length ? "?" + parts.join("&") : "";
}

export const paths = {
  bots: () => "/bots",
  bot: (slug) => `/bots/${encodeURIComponent(slug)}`,
  botMetrics: (slug) => `/bots/${encodeURIComponent(slug)}/metrics`,
  botWebhook: (slug) => `/bots/${encodeURIComponent(slug)}/webhook`,
  botWebhookSecretRotate: (slug) => `/bots/${encodeURIComponent(slug)}/webhook-secret:rotate`,
  shots: (params) => "/shots" + query(params || {}),
  shot: (id) => `/shots/${encodeURIComponent(id)}`,
  shotAction: (id, action) => `/shots/${encodeURIComponent(id)}/${action}`,
  shotStats: (id) => `/shots/${encodeURIComponent(id)}/stats`,
  deliveries: (id, params) => `/shots/${encodeURIComponent(id)}/deliveries` + query(params || {}),
  deliveriesCsv: (id, params) => `/shots/${encodeURIComponent(id)}/deliveries.csv` + query(params || {}),
  conversions: (id) => `/shots/${encodeURIComponent(id)}/conversions`,
  conversionsCsv: (id) => `/shots/${encodeURIComponent(id)}/conversions.csv`,
  estimate: () => "/audience/estimate",
  tags: (slug) => `/bots/${encodeURIComponent(slug)}/tags`,
  tagsApply: (slug) => `/bots/${encodeURIComponent(slug)}/tags:apply`,
  contacts: (slug, params) => `/bots/${encodeURIComponent(slug)}/contacts` + query(params || {}),
  contactsBrowse: (slug, params) => `/bots/${encodeURIComponent(slug)}/contacts:browse` + query(params || {}),
  contactsCount: (slug, params) => `/bots/${encodeURIComponent(slug)}/contacts:count` + query(params || {}),
  contactsCsv: (slug, params) => `/bots/${encodeURIComponent(slug)}/contacts.csv` + query(params || {}),
  contactsDelete: (slug) => `/bots/${encodeURIComponent(slug)}/contacts:delete`,
  contact: (slug, telegramId) => `/bots/${encodeURIComponent(slug)}/contacts/${encodeURIComponent(telegramId)}`,
  segments: (slug) => `/bots/${encodeURIComponent(slug)}/segments`,
  segment: (slug, id) => `/bots/${encodeURIComponent(slug)}/segments/${encodeURIComponent(id)}`,
  preview: () => "/shots/preview",
  templates: (params) => "/templates" + query(params || {}),
  template: (id) => `/templates/${encodeURIComponent(id)}`,
};
