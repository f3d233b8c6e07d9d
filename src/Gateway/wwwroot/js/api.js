// Talks to the gateway's JSON API. Every failure becomes an ApiError carrying the
// RFC 7807 problem (title, detail, errors) so the page can show it in plain words.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.title = problem.title || defaultTitle(status);
    this.detail = problem.detail || '';
    /** [[field, message], ...] from a validation problem's "errors" object. */
    this.fieldErrors = Object.entries(problem.errors ?? {}).flatMap(([field, messages]) =>
      (Array.isArray(messages) ? messages : [messages]).map((message) => [field, String(message)]));
  }
}

function defaultTitle(status) {
  if (status === 0) return 'The gateway could not be reached';
  if (status === 413) return 'Upload too large';
  if (status >= 500) return 'The gateway hit an error';
  return `Request failed (HTTP ${status})`;
}

/** A distributed gateway needs an API key: set it once with localStorage.setItem('talkingface.apiKey', KEY). */
function apiKeyHeader() {
  const key = globalThis.localStorage?.getItem('talkingface.apiKey');
  return key ? { 'X-Api-Key': key } : {};
}

/** fetch + JSON; resolves with the parsed body, rejects with ApiError (AbortError passes through). */
export async function api(path, { method = 'GET', body, headers = {}, signal } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      body,
      signal,
      headers: { Accept: 'application/json, application/problem+json', ...apiKeyHeader(), ...headers },
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { detail: 'Check that the gateway is running and that this device is online, then try again.' });
  }
  const text = await response.text();
  const data = parseJson(text);
  if (!response.ok) {
    const problem = data && typeof data === 'object' ? data : { detail: text.trim().slice(0, 300) || response.statusText };
    throw new ApiError(response.status, problem);
  }
  return data;
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** crypto.randomUUID exists only in secure contexts (HTTPS, localhost); a phone on http://LAN-IP lacks it. */
export function newUuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const jobsApi = {
  get: (id, signal) => api(`/api/jobs/${encodeURIComponent(id)}`, { signal }),
  /** Server-sent events: "job" with the job's JSON on every change; the stream ends when the job finishes. */
  /**
   * EventSource, <video> and download links cannot send the API key: ask for a short-lived token that reads this one job;
   * resolves with { token, expiresAt, events } (token null when the gateway runs without keys).
   */
  eventsUrl: (id) => `/api/jobs/${encodeURIComponent(id)}/events`,
  readToken: (id, signal) => api(`/api/jobs/${encodeURIComponent(id)}/read-token`, { method: 'POST', signal }),
  list: ({ page = 1, pageSize = 20, state = '', kind = '', batchId = '' } = {}, signal) => {
    const query = new URLSearchParams({ page, pageSize });
    if (state) query.set('state', state);
    if (kind) query.set('kind', kind);
    if (batchId) query.set('batchId', batchId);
    return api(`/api/jobs?${query}`, { signal });
  },
  cancel: (id) => api(`/api/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' }),
  submit: (path, formData, idempotencyKey) =>
    api(path, { method: 'POST', body: formData, headers: { 'Idempotency-Key': idempotencyKey } }),
};

export const fleetApi = {
  workers: (signal) => api('/api/fleet/workers', { signal }),
  /** Per device class x stage: live/busy workers, speed, backlog. Older gateways lack it (404). */
  summary: (signal) => api('/api/fleet', { signal }),
};

export const batchesApi = {
  get: (id, signal) => api(`/api/batches/${encodeURIComponent(id)}`, { signal }),
  list: ({ page = 1, pageSize = 10, finished = '' } = {}, signal) => {
    const query = new URLSearchParams({ page, pageSize });
    if (finished !== '') query.set('finished', finished);
    return api(`/api/batches?${query}`, { signal });
  },
};

export const catalogApi = {
  models: (signal) => api('/api/models', { signal }),
  /** Hair references: [{ id, name, uses: ["shape", "color"], thumbnailUrl, imageUrl }]. */
  gallery: (signal) => api('/api/gallery', { signal }),
};
