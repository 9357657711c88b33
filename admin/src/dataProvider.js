/*
 * dataProvider for the agentdesk API, for React Admin 5.
 *
 * Usage:
 *
 *   import { createDataProvider } from './dataProvider';
 *   const dataProvider = createDataProvider();            // API on this origin
 *   const dataProvider = createDataProvider('https://api.example'); // or elsewhere
 *   <Admin dataProvider={dataProvider} authProvider={authProvider}>…</Admin>
 *
 * It depends on react-admin (HttpError) and ./realtime.js only, and reads the
 * bearer token from localStorage ('agentdesk.token', written by authProvider.js).
 *
 * The API (README "Lists", "Resources"):
 *   getList           GET  /api/{resource}?skip=&limit=&sort=&order=&filter={json}  → {data, total}
 *   getOne            GET  /api/{resource}/{id}
 *   getMany           GET  /api/{resource}?filter={"id":[…]}
 *   getManyReference  GET  /api/{resource}?filter={"<target>": id, …}
 *   create            POST /api/{resource}                 (multipart for files, see below)
 *   update            PUT  /api/{resource}/{id}            the whole record, with its `revision`
 *   delete            DELETE /api/{resource}/{id}          with If-Match: "<revision>"
 *   updateMany / deleteMany: one record at a time (updateMany reads each
 *                     record first, as a PUT takes the whole record).
 *
 * Child records are written under their parent: comments through
 * POST /api/tickets/{ticket_id}/comments, campaign content under
 * /api/campaigns/{campaign_id}/content[/{id}], attachments under
 * /api/tickets/{ticket_id}/attachments[/{id}]. The methods above do that
 * for you when the record names its parent.
 *
 * Files: a create or update whose data holds a React Admin FileInput value
 * (`{rawFile: File}`) in `file` is sent as multipart/form-data (knowledge
 * documents, ticket attachments).
 *
 * Custom methods (call them through useDataProvider()):
 *   action(resource, id, action, body?)   POST /api/{resource}/{id}/{action} → the record
 *   chat(agentId, {message, conversation_id})  POST /api/agents/{id}/chat
 *   history(resource, id, {skip, limit})  GET  /api/{resource}/{id}/history → {data, total}
 *   getOneAsOf(resource, id, asOf)        GET  /api/{resource}/{id}?as_of=<RFC 3339>
 *   post(path, body?) / get(path)         any other endpoint (operations: projections, reactions)
 *   download(path, filename)              GET a file with the token and save it (attachments, exports)
 *   markAllRead()                         POST /api/notifications/read_all
 *   sync(agentId, type)                   POST /api/agents/{id}/integrations/{type}/sync
 *
 * Realtime (React Admin's realtime provider shape, see realtime.js):
 *   subscribe(topic, callback), unsubscribe(topic, callback), publish(topic, event)
 *   with topics "resource/{resource}" and "resource/{resource}/{id}".
 *
 * Errors are thrown as HttpError(message, status, body): message is the
 * body's `detail` (or `message`), so React Admin shows it; a 409 on a
 * record's PUT or DELETE (a stale revision) says "This record was changed
 * by someone else: reload it"; 400 and 422 carry `{errors: {field: msg}}`
 * in the body, which React Admin shows on the form's fields.
 */
import { HttpError } from 'react-admin';
import { createRealtime } from './realtime.js';

export const TOKEN_KEY = 'agentdesk.token';
export const IDENTITY_KEY = 'agentdesk.identity';

export const STALE_MESSAGE = 'This record was changed by someone else: reload it';

/** defaultApiUrl is VITE_API_URL at build time, else the page's own origin. */
export const defaultApiUrl = () =>
  (import.meta.env && import.meta.env.VITE_API_URL) || window.location.origin;

const getToken = () => localStorage.getItem(TOKEN_KEY);

// Where a child record is written: its parent's URL.
const children = {
  comments: { parent: 'ticket_id', base: (p) => `tickets/${p}/comments` },
  campaign_content: { parent: 'campaign_id', base: (p) => `campaigns/${p}/content` },
  ticket_attachments: { parent: 'ticket_id', base: (p) => `tickets/${p}/attachments` },
};

// Fields a record carries that the server computes; they are sent back
// as read (the server ignores them) except the ones listed here, which
// the UI adds and the API does not know.
const clientOnly = ['file'];

/**
 * createDataProvider returns the dataProvider; apiUrl defaults to
 * defaultApiUrl().
 */
export function createDataProvider(apiUrl = defaultApiUrl()) {
  const base = apiUrl.replace(/\/$/, '');

  async function request(path, { method = 'GET', body, headers = {}, raw = false } = {}) {
    const h = new Headers(headers);
    h.set('Accept', 'application/json');
    const token = getToken();
    if (token) h.set('Authorization', `Bearer ${token}`);
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) {
      h.set('Content-Type', 'application/json');
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${base}${path}`, { method, headers: h, body: payload });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) throw toHttpError(res.status, json, text, method);
    return raw ? { status: res.status, headers: res.headers, json } : json;
  }

  const qs = (params) =>
    Object.entries(params)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&');

  function listQuery(resource, { pagination, sort, filter }) {
    const page = pagination?.page ?? 1;
    const perPage = pagination?.perPage ?? 25;
    const params = { skip: (page - 1) * perPage, limit: perPage };
    if (sort?.field && sort.field !== 'id') {
      params.sort = sort.field;
      params.order = sort.order === 'ASC' ? 'ASC' : 'DESC';
    }
    const f = cleanFilter(resource, filter);
    if (Object.keys(f).length) params.filter = JSON.stringify(f);
    return `/api/${resource}?${qs(params)}`;
  }

  const writable = (data) => {
    const out = { ...data };
    for (const k of clientOnly) delete out[k];
    return out;
  };

  const hasFile = (data) => data && data.file && data.file.rawFile instanceof File;

  function formData(data) {
    const fd = new FormData();
    for (const [k, v] of Object.entries(data)) {
      if (k === 'file') continue;
      if (v === undefined || v === null || typeof v === 'object') continue;
      fd.append(k, String(v));
    }
    fd.append('file', data.file.rawFile, data.file.rawFile.name);
    return fd;
  }

  const realtime = createRealtime({ apiUrl: base, getToken });

  const dp = {
    async getList(resource, params) {
      const { data, total } = await request(listQuery(resource, params));
      return { data, total };
    },
    async getOne(resource, { id }) {
      return { data: await request(`/api/${resource}/${encodeURIComponent(id)}`) };
    },
    async getMany(resource, { ids }) {
      if (!ids.length) return { data: [] };
      const filter = JSON.stringify({ id: ids });
      const { data } = await request(`/api/${resource}?${qs({ filter, limit: Math.max(ids.length, 1) })}`);
      return { data };
    },
    async getManyReference(resource, { target, id, pagination, sort, filter }) {
      const { data, total } = await request(
        listQuery(resource, { pagination, sort, filter: { ...filter, [target]: id } }),
      );
      return { data, total };
    },
    async create(resource, { data }) {
      const child = children[resource];
      const path = child && data[child.parent] ? `/api/${child.base(data[child.parent])}` : `/api/${resource}`;
      let body;
      if (hasFile(data)) {
        body = formData(child ? omit(data, child.parent) : data);
      } else {
        body = writable(child ? omit(data, child.parent) : data);
      }
      // A 202 (README "Write answers") is a receipt, not the record: React
      // Admin goes on with its id.
      return { data: written(await request(path, { method: 'POST', body, raw: true }), data) };
    },
    async update(resource, { id, data, previousData }) {
      const path = recordPath(resource, id, data ?? previousData);
      const revision = data?.revision ?? previousData?.revision;
      if (hasFile(data)) {
        const fd = new FormData();
        if (data.title) fd.append('title', data.title);
        fd.append('file', data.file.rawFile, data.file.rawFile.name);
        const headers = revision !== undefined ? { 'If-Match': `"${revision}"` } : {};
        return { data: written(await request(path, { method: 'PUT', body: fd, headers, raw: true }), data) };
      }
      const body = writable(updateBody(resource, data));
      return { data: written(await request(path, { method: 'PUT', body, raw: true }), data) };
    },
    async updateMany(resource, { ids, data }) {
      // A PUT takes the whole record (a field left out is emptied), so
      // each record is read first and sent back with the changes and its
      // revision: one changed meanwhile is a 409, not a silent overwrite.
      const done = [];
      for (const id of ids) {
        const { data: current } = await dp.getOne(resource, { id });
        await dp.update(resource, { id, data: { ...current, ...data }, previousData: current });
        done.push(id);
      }
      return { data: done };
    },
    async delete(resource, { id, previousData }) {
      const headers = {};
      // An attachment's revision is its ticket's stream revision when it
      // was added: any later change to the ticket would make it stale, so
      // it is deleted without If-Match.
      const guarded = resource !== 'ticket_attachments';
      if (guarded && previousData && previousData.revision !== undefined && previousData.revision !== null) {
        headers['If-Match'] = `"${previousData.revision}"`;
      }
      const data = await request(recordPath(resource, id, previousData), { method: 'DELETE', headers });
      return { data: data ?? previousData ?? { id } };
    },
    async deleteMany(resource, { ids }) {
      const done = [];
      for (const id of ids) {
        await dp.delete(resource, { id });
        done.push(id);
      }
      return { data: done };
    },

    // Custom methods.
    action(resource, id, action, body) {
      return request(`/api/${resource}/${encodeURIComponent(id)}/${action}`, {
        method: 'POST',
        body: body === undefined ? undefined : body,
      });
    },
    contentAction(campaignId, itemId, action) {
      return request(`/api/campaigns/${campaignId}/content/${itemId}/${action}`, { method: 'POST' });
    },
    chat(agentId, { message, conversation_id }) {
      const body = { message };
      if (conversation_id) body.conversation_id = conversation_id;
      return request(`/api/agents/${encodeURIComponent(agentId)}/chat`, { method: 'POST', body });
    },
    history(resource, id, { skip = 0, limit = 100 } = {}) {
      return request(`/api/${resource}/${encodeURIComponent(id)}/history?${qs({ skip, limit })}`);
    },
    getOneAsOf(resource, id, asOf) {
      return request(`/api/${resource}/${encodeURIComponent(id)}?${qs({ as_of: asOf })}`);
    },
    markAllRead() {
      return request('/api/notifications/read_all', { method: 'POST' });
    },
    sync(agentId, type) {
      return request(`/api/agents/${encodeURIComponent(agentId)}/integrations/${type}/sync`, { method: 'POST' });
    },
    post(path, body) {
      return request(path, { method: 'POST', body });
    },
    /** download fetches a file with the token and hands it to the browser to save. */
    async download(path, filename) {
      const token = getToken();
      const res = await fetch(`${base}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (!res.ok) {
        let json;
        try {
          json = await res.json();
        } catch {
          json = undefined;
        }
        throw toHttpError(res.status, json, '', 'GET');
      }
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = filename || 'download';
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
    get(path) {
      return request(path);
    },

    // Realtime provider (React Admin's shape).
    subscribe: realtime.subscribe,
    unsubscribe: realtime.unsubscribe,
    publish: realtime.publish,
    closeRealtime: realtime.close,
  };
  return dp;
}

// written is the record a write answered, or, for a 202 (recorded, not
// readable yet), what was sent with the id and revision of the receipt.
function written(res, sent) {
  const rec = res.json ?? {};
  if (res.status === 202) return { ...omit(sent, 'file'), id: rec.id, revision: rec.revision };
  return rec;
}

function omit(obj, key) {
  const { [key]: _dropped, ...rest } = obj;
  return rest;
}

function recordPath(resource, id, record) {
  const child = children[resource];
  if (child && record && record[child.parent]) {
    return `/api/${child.base(record[child.parent])}/${encodeURIComponent(id)}`;
  }
  return `/api/${resource}/${encodeURIComponent(id)}`;
}

// What a PUT sends: the whole record for the top-level resources (the
// server ignores the read-only fields and checks `revision`); only the
// writable fields for child records, whose endpoints are stricter.
function updateBody(resource, data) {
  if (resource === 'campaign_content') {
    return { title: data.title, body: data.body, revision: data.revision };
  }
  if (resource === 'agents' && Array.isArray(data.integrations)) {
    // credential is write-only: an integration sent without one keeps
    // its stored credential, so an empty password input sends nothing.
    const integrations = data.integrations.map((i) => {
      const { credential_set: _set, ...rest } = i ?? {};
      if (rest.credential === undefined || rest.credential === null || rest.credential === '') {
        delete rest.credential;
      }
      return rest;
    });
    return { ...data, integrations };
  }
  if (resource === 'users') {
    const out = { ...data };
    if (!out.password) delete out.password;
    if (!out.old_password) delete out.old_password;
    return out;
  }
  return data;
}

// cleanFilter maps React Admin's filter to the API's: values go straight
// into the JSON (q included); empty strings are dropped (an emptied
// filter input); the superadmin's audit log, which must name a company,
// lists the platform's own entries when none is picked.
function cleanFilter(resource, filter = {}) {
  const out = {};
  for (const [k, v] of Object.entries(filter)) {
    if (v === '' || v === undefined) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  if (resource === 'audit_log' && !('company_id' in out)) {
    try {
      const me = JSON.parse(localStorage.getItem(IDENTITY_KEY) || 'null');
      if (me && me.role === 'superadmin') out.company_id = null;
    } catch {
      /* no identity cached: the server answers 400, shown as a notification */
    }
  }
  return out;
}

function toHttpError(status, json, text, method) {
  const detail = (json && (json.detail || json.message)) || text || `HTTP ${status}`;
  if (status === 409 && (method === 'PUT' || method === 'DELETE' || /changed by someone else/i.test(detail))) {
    return new HttpError(STALE_MESSAGE, status, json);
  }
  if ((status === 400 || status === 422) && json && json.errors) {
    // root.serverError is what React Admin notifies; the fields show theirs.
    return new HttpError(detail, status, { ...json, errors: { ...json.errors, root: { serverError: detail } } });
  }
  return new HttpError(detail, status, json);
}
