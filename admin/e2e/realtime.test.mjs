// Unit tests of the realtime client (src/realtime.js) with a fake
// EventSource and fetch: one stream per tab, messages by topic, and a
// reconnect with a new ticket and last_event_id once the stream closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRealtime } from '../src/realtime.js';

class FakeEventSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = FakeEventSource.CONNECTING;
    FakeEventSource.all.push(this);
  }
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
  // Test helpers.
  emit(id, topic, type, ids) {
    this.onmessage({ lastEventId: id, data: JSON.stringify({ topic, event: { type, payload: { ids } } }) });
  }
  fail() {
    this.readyState = FakeEventSource.CLOSED;
    this.onerror(new Event('error'));
  }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

function setup() {
  FakeEventSource.all = [];
  globalThis.EventSource = FakeEventSource;
  const tickets = [];
  globalThis.fetch = async (url, init) => {
    assert.equal(init.method, 'POST');
    assert.equal(init.headers.Authorization, 'Bearer tok');
    tickets.push(url);
    return { ok: true, json: async () => ({ ticket: `t${tickets.length}`, expires_in: 60 }) };
  };
  const rt = createRealtime({ apiUrl: 'http://api', getToken: () => 'tok' });
  return { rt, tickets };
}

test('one stream for every subscription, messages by topic', async () => {
  const { rt, tickets } = setup();
  const lists = [];
  const records = [];
  await rt.subscribe('resource/tickets', (e) => lists.push(e));
  await rt.subscribe('resource/tickets/42', (e) => records.push(e));
  await tick();
  assert.equal(FakeEventSource.all.length, 1, 'one EventSource');
  assert.equal(tickets.length, 1);
  assert.equal(FakeEventSource.all[0].url, 'http://api/api/events?ticket=t1');
  const es = FakeEventSource.all[0];
  es.emit('e1', 'resource/tickets', 'created', ['42']);
  es.emit('e2', 'resource/tickets/42', 'updated', ['42']);
  es.emit('e3', 'resource/users', 'updated', ['7']);
  assert.equal(lists.length, 1);
  assert.deepEqual(lists[0].payload.ids, ['42']);
  assert.equal(lists[0].type, 'created');
  assert.equal(records.length, 1);
  assert.equal(records[0].type, 'updated');
  rt.close();
});

test('a closed stream reopens with a new ticket and the last event id', async () => {
  const { rt, tickets } = setup();
  const got = [];
  await rt.subscribe('resource/tickets', (e) => got.push(e));
  await tick();
  const first = FakeEventSource.all[0];
  first.emit('epoch-7', 'resource/tickets', 'updated', ['1']);
  first.fail(); // the ticket expired: the browser gave up
  await tick(1100); // the first retry waits a second
  assert.equal(FakeEventSource.all.length, 2, 'reopened');
  assert.equal(tickets.length, 2, 'with a new ticket');
  assert.equal(FakeEventSource.all[1].url, 'http://api/api/events?ticket=t2&last_event_id=epoch-7');
  // "Could not resume": an empty ids list reaches the subscribers as is.
  FakeEventSource.all[1].emit('epoch-8', 'resource/tickets', 'updated', []);
  assert.deepEqual(got.at(-1).payload.ids, []);
  rt.close();
});

test('an error while connecting is left to the browser to retry', async () => {
  const { rt } = setup();
  await rt.subscribe('resource/tickets', () => {});
  await tick();
  const es = FakeEventSource.all[0];
  es.readyState = FakeEventSource.CONNECTING;
  es.onerror(new Event('error'));
  await tick(1100);
  assert.equal(FakeEventSource.all.length, 1, 'no second stream');
  rt.close();
});
