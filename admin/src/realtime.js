/*
 * Realtime client for the agentdesk event stream, in React Admin's
 * realtime provider shape (subscribe / unsubscribe / publish), used by
 * dataProvider.js.
 *
 * Usage:
 *
 *   const rt = createRealtime({ apiUrl, getToken });
 *   const cb = (event) => console.log(event.type, event.payload.ids);
 *   await rt.subscribe('resource/tickets', cb);          // every ticket change
 *   await rt.subscribe('resource/tickets/<id>', cb);     // one ticket
 *   await rt.unsubscribe('resource/tickets', cb);
 *
 * How it talks to the server (README "Realtime"):
 *   POST /api/events/ticket (Bearer)  → {"ticket", "expires_in": 60}
 *   GET  /api/events?ticket=…[&last_event_id=…]  → text/event-stream of
 *        {"topic": "resource/tickets[/<id>]", "event": {"type", "payload": {"ids": […]}}}
 *
 * One EventSource is shared by the whole tab and opened with the first
 * subscription. The browser reconnects by itself while the ticket is
 * valid (sending Last-Event-ID); once the stream errors into CLOSED (the
 * ticket expired, the server restarted), a new ticket is fetched and the
 * stream reopened with last_event_id, after a growing delay (1 s to 30 s).
 * A message on a resource topic with no ids means "reload everything of
 * that resource": the callbacks get it as is, with payload.ids = [].
 */

const TICKET_REUSE_MS = 50_000; // tickets live 60 s: keep a margin

export function createRealtime({ apiUrl, getToken }) {
  const subscribers = new Map(); // topic → Set(callback)
  let source = null;
  let ticket = null; // {value, at}
  let lastEventId = null;
  let retryDelay = 1000;
  let retryTimer = null;
  let opening = null;
  let closed = false;

  async function getTicket() {
    if (ticket && Date.now() - ticket.at < TICKET_REUSE_MS) return ticket.value;
    const token = getToken();
    if (!token) throw new Error('not signed in');
    const res = await fetch(`${apiUrl}/api/events/ticket`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    });
    if (!res.ok) throw new Error(`event ticket: HTTP ${res.status}`);
    const body = await res.json();
    ticket = { value: body.ticket, at: Date.now() };
    return ticket.value;
  }

  function dispatch(message) {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    if (!data || !data.topic || !data.event) return;
    const event = { ...data.event, topic: data.topic, date: new Date() };
    if (!event.payload) event.payload = { ids: [] };
    if (!Array.isArray(event.payload.ids)) event.payload.ids = [];
    const set = subscribers.get(data.topic);
    if (!set) return;
    for (const cb of [...set]) {
      try {
        cb(event);
      } catch (err) {
        console.error('realtime subscriber failed', err);
      }
    }
  }

  function scheduleReconnect() {
    if (retryTimer || closed || subscribers.size === 0) return;
    const delay = retryDelay;
    retryDelay = Math.min(retryDelay * 2, 30_000);
    retryTimer = setTimeout(() => {
      retryTimer = null;
      open();
    }, delay);
  }

  function open() {
    if (source || opening || subscribers.size === 0 || closed) return opening;
    opening = (async () => {
      try {
        const t = await getTicket();
        let url = `${apiUrl}/api/events?ticket=${encodeURIComponent(t)}`;
        if (lastEventId) url += `&last_event_id=${encodeURIComponent(lastEventId)}`;
        const es = new EventSource(url);
        source = es;
        es.onopen = () => {
          retryDelay = 1000;
        };
        es.onmessage = (m) => {
          if (m.lastEventId) lastEventId = m.lastEventId;
          dispatch(m);
        };
        es.onerror = () => {
          if (es.readyState === EventSource.CLOSED) {
            // The browser gave up (the ticket expired or was refused):
            // a new ticket, then resume from the last message seen.
            if (source === es) source = null;
            ticket = null;
            scheduleReconnect();
          }
        };
      } catch {
        ticket = null;
        scheduleReconnect();
      } finally {
        opening = null;
      }
    })();
    return opening;
  }

  function close() {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    if (source) source.close();
    source = null;
    ticket = null;
  }

  return {
    subscribe(topic, callback) {
      closed = false;
      let set = subscribers.get(topic);
      if (!set) subscribers.set(topic, (set = new Set()));
      set.add(callback);
      open();
      return Promise.resolve({ data: null });
    },
    unsubscribe(topic, callback) {
      const set = subscribers.get(topic);
      if (set) {
        set.delete(callback);
        if (set.size === 0) subscribers.delete(topic);
      }
      // The stream stays open while anything listens; with nothing left
      // it is closed a moment later (a page change unsubscribes, then
      // the next page subscribes again).
      if (subscribers.size === 0) {
        setTimeout(() => {
          if (subscribers.size === 0) close();
        }, 5000);
      }
      return Promise.resolve({ data: null });
    },
    publish() {
      // Changes are published by the server as the projections apply them.
      return Promise.resolve({ data: null });
    },
    /** close ends the stream (on logout) until the next subscribe. */
    close() {
      closed = true;
      lastEventId = null;
      close();
    },
  };
}
