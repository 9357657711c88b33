// Unit tests of the dataProvider (src/dataProvider.js) against a fake
// fetch: the requests it makes and how it turns answers into records and
// errors.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

// The browser globals it reads.
const store = new Map();
globalThis.localStorage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
  removeItem: (k) => store.delete(k),
};

const { createDataProvider, STALE_MESSAGE, TOKEN_KEY } = await import('../src/dataProvider.js');

let calls;
let answers;
globalThis.fetch = async (url, init = {}) => {
  const headers = new Headers(init.headers);
  calls.push({ url, method: init.method ?? 'GET', headers, body: init.body });
  const [status, body] = answers.shift() ?? [200, {}];
  return new Response(body === undefined ? '' : JSON.stringify(body), { status });
};

beforeEach(() => {
  calls = [];
  answers = [];
  store.clear();
  store.set(TOKEN_KEY, 'tok');
});

const dp = createDataProvider('http://api/');
const query = (url) => Object.fromEntries(new URL(url).searchParams);

test('getList pages, sorts and filters in the API\'s terms', async () => {
  answers.push([200, { data: [{ id: 'a' }], total: 42 }]);
  const res = await dp.getList('tickets', {
    pagination: { page: 3, perPage: 25 },
    sort: { field: 'priority', order: 'ASC' },
    filter: { q: 'printer', status: ['open', 'in_progress'], tags: '', assignee_id: null },
  });
  assert.deepEqual(res, { data: [{ id: 'a' }], total: 42 });
  const { url, headers } = calls[0];
  assert.equal(new URL(url).pathname, '/api/tickets');
  assert.deepEqual(query(url), {
    skip: '50', limit: '25', sort: 'priority', order: 'ASC',
    filter: JSON.stringify({ q: 'printer', status: ['open', 'in_progress'], assignee_id: null }),
  });
  assert.equal(headers.get('Authorization'), 'Bearer tok');
});

test('getMany asks for the ids, getManyReference for the target', async () => {
  answers.push([200, { data: [{ id: '1' }, { id: '2' }], total: 2 }], [200, { data: [], total: 0 }]);
  await dp.getMany('users', { ids: ['1', '2'] });
  assert.deepEqual(JSON.parse(query(calls[0].url).filter), { id: ['1', '2'] });
  await dp.getManyReference('comments', {
    target: 'ticket_id', id: 't1', pagination: { page: 1, perPage: 50 }, sort: { field: 'seq', order: 'ASC' }, filter: {},
  });
  assert.deepEqual(JSON.parse(query(calls[1].url).filter), { ticket_id: 't1' });
});

test('update sends the whole record with its revision; a stale one says so', async () => {
  answers.push([409, { detail: 'conflict: changed by someone else since you read it', message: '…' }]);
  const record = { id: 't1', title: 'New', revision: 3, tags: ['a'] };
  await assert.rejects(dp.update('tickets', { id: 't1', data: record, previousData: record }), (err) => {
    assert.equal(err.status, 409);
    assert.equal(err.message, STALE_MESSAGE);
    return true;
  });
  assert.equal(calls[0].method, 'PUT');
  assert.equal(calls[0].url, 'http://api/api/tickets/t1');
  assert.deepEqual(JSON.parse(calls[0].body), record);
});

test('a 422 marks the fields and notifies the detail', async () => {
  answers.push([422, { detail: 'validation failed: title: must not be empty', message: '…', errors: { title: 'must not be empty' } }]);
  await assert.rejects(dp.create('tickets', { data: { title: '' } }), (err) => {
    assert.equal(err.status, 422);
    assert.equal(err.body.errors.title, 'must not be empty');
    assert.equal(err.body.errors.root.serverError, 'validation failed: title: must not be empty');
    return true;
  });
});

test('a 403 keeps the server\'s words', async () => {
  answers.push([403, { detail: 'forbidden', message: 'forbidden' }]);
  await assert.rejects(dp.action('tickets', 't1', 'status', { status: 'resolved' }), (err) => {
    assert.equal(err.status, 403);
    assert.equal(err.message, 'forbidden');
    return true;
  });
  assert.equal(calls[0].url, 'http://api/api/tickets/t1/status');
  assert.deepEqual(JSON.parse(calls[0].body), { status: 'resolved' });
});

test('delete sends If-Match; an attachment is deleted under its ticket without it', async () => {
  answers.push([200, { id: 't1' }], [200, { id: 'f1' }]);
  await dp.delete('tickets', { id: 't1', previousData: { id: 't1', revision: 4 } });
  assert.equal(calls[0].method, 'DELETE');
  assert.equal(calls[0].headers.get('If-Match'), '"4"');
  await dp.delete('ticket_attachments', { id: 'f1', previousData: { id: 'f1', ticket_id: 't1', revision: 1 } });
  assert.equal(calls[1].url, 'http://api/api/tickets/t1/attachments/f1');
  assert.equal(calls[1].headers.get('If-Match'), null);
});

test('children are written under their parent', async () => {
  answers.push([201, { id: 'c1', ticket_id: 't1', body: 'hi' }], [200, { id: 'i1' }]);
  const { data } = await dp.create('comments', { data: { ticket_id: 't1', body: 'hi' } });
  assert.equal(data.id, 'c1');
  assert.equal(calls[0].url, 'http://api/api/tickets/t1/comments');
  assert.deepEqual(JSON.parse(calls[0].body), { body: 'hi' });
  const item = { id: 'i1', campaign_id: 'k1', title: 'T', body: 'B', status: 'draft', revision: 2 };
  await dp.update('campaign_content', { id: 'i1', data: item, previousData: item });
  assert.equal(calls[1].url, 'http://api/api/campaigns/k1/content/i1');
  assert.deepEqual(JSON.parse(calls[1].body), { title: 'T', body: 'B', revision: 2 });
});

test('a 202 create goes on with the id of its receipt', async () => {
  answers.push([202, { id: 'n1', status: 'accepted', revision: 0, location: '/api/tickets/n1' }]);
  const { data } = await dp.create('tickets', { data: { title: 'Later', priority: 'low' } });
  assert.deepEqual(data, { title: 'Later', priority: 'low', id: 'n1', revision: 0 });
});

test('an agent\'s empty credential is left out, so the stored one stays', async () => {
  answers.push([200, { id: 'a1' }]);
  const agent = {
    id: 'a1', name: 'Bot', revision: 1,
    integrations: [{ id: 'i', type: 'shopify', shop_domain: 's', credential_set: true, credential: '' }],
  };
  await dp.update('agents', { id: 'a1', data: agent, previousData: agent });
  assert.deepEqual(JSON.parse(calls[0].body).integrations, [{ id: 'i', type: 'shopify', shop_domain: 's' }]);
});
