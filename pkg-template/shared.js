// chatkitty-wasm: a tab's side of `shareConnection: true` (docs/api.md §18). The tab's
// ChatKitty gets a `Remote` in place of the wasm-bindgen client: the same methods
// (`_call`, `_on`, `startSession`, `startChatSession`, …), carried out by the hub
// (hub.js) that owns the one connection of all the app's tabs. The hub runs in a
// SharedWorker (shared-worker.js) where the browser has one; elsewhere in one tab,
// elected through a Web Lock, that the others reach over a BroadcastChannel, and that
// hands the role over when it goes (§18.1). Answers and events come back over the tab's
// port, made cloneable by wire.js.

import { encode, decode, uuid } from './wire.js';
import { NAS, OP } from './surface.js';

const noSession = () => {
  const e = new Error("You're not connected to ChatKitty.");
  e.name = e.error = 'NoActiveSessionError';
  return e;
};

const notify = (o, v) => {
  try {
    typeof o === 'function' ? o(v) : o?.onNext?.(v);
  } catch (e) {
    console.error(e);
  }
};

/** Message ids a chat session remembers to drop the ones a new hub delivers again. */
const SEEN = 64;
/** A new hub recovers a chat session's messages after the oldest of its last this many
 * (as the core does after a drop: one published out of id order is not lost). */
const RECHECK = 16;

/** Calls a new hub may run again (§18.1): reads, and text sends, which carry an
 * idempotency key (the server stores them once). Others in flight when the hub's tab
 * went fail as an action in flight at a dropped connection does (docs/api.md §2.1):
 * they may or may not have been carried out. */
const replayable = (m) =>
  m.t !== 'call' || (reads ??= new Set(Object.keys(OP).filter((n) => /^(get|search)/.test(n)).map((n) => OP[n]))).has(m.op) ||
  (m.op === OP.sendMessage && m.request?.body !== undefined);
let reads;

const dropped = () => ({
  succeeded: false, failed: true, cancelled: false,
  error: { error: 'ChatKittyConnectionError', message: 'Could not connect to ChatKitty', timestamp: new Date().toISOString() },
});

export class Remote {
  constructor() {
    this.port = undefined;
    this.n = 0;
    /** id → [ok, no, message, sent]: calls waiting for an answer, sent again to a new hub. */
    this.waiting = new Map();
    this.handlers = new Map();
    this.user = undefined;
    /** What a new hub is told to carry on with this tab: its hello, the request of its
     * live session, its observers (id → kind) and chat sessions (id → their message). */
    this.hello = undefined;
    this.session = undefined;
    this.observers = new Map();
    this.chats = new Map();
  }

  /** Talks to the hub at the other end of `port` from now on: a first one, or the next
   * one after the tab holding the hub went (§18.1), which is told everything this tab had
   * going. */
  attach(port) {
    this.port = port;
    port.onmessage = ({ data: m }) => this.receive(m);
    if (!this.hello) return;
    port.postMessage(this.hello);
    // Observers before the session (they hear its first connection), the session before
    // the chat sessions (the hub runs them on the client of the tab's user).
    for (const [id, kind] of this.observers) port.postMessage({ t: 'on', id, kind });
    const again = [];
    if (this.session) {
      const id = ++this.n;
      port.postMessage({ t: 'start', id, request: this.session });
      again.push([id, [(r) => r?.succeeded || this.lost(), () => this.lost()]]);
    }
    for (const [id, c] of this.chats) {
      const ids = c.seen.slice(-RECHECK);
      port.postMessage({ ...c.m, request: ids.length ? { ...c.m.request, _after: Math.min(...ids) } : c.m.request });
      if (c.thread) port.postMessage(c.thread);
    }
    for (const [id, w] of [...this.waiting]) {
      // Never sent (no hub yet), or safe to run again.
      if (!w[3] || replayable(w[2])) (w[3] = true), port.postMessage({ ...w[2], id });
      else {
        this.waiting.delete(id);
        w[0](dropped());
      }
    }
    for (const [id, w] of again) this.waiting.set(id, w);
  }

  /** The new hub could not start this tab's session again (its credentials expired). */
  lost() {
    this.session = undefined;
    this.user = undefined;
  }

  receive(m) {
    if (m.t === 'user') this.user = decode(m.u, this) ?? undefined;
    else if (m.t === 'ok' || m.t === 'err') {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      w?.[m.t === 'ok' ? 0 : 1](decode(m.r, this));
    } else if (m.t === 'ev') this.handlers.get(m.id)?.(decode(m.v, this));
    else if (m.t === 'chat') {
      const args = decode(m.args, this);
      const c = this.chats.get(m.id);
      if (c && m.h === 'onReceivedMessage' && typeof args[0]?.id === 'number') {
        // A new hub relays what came after this tab's last messages: once each.
        if (c.seen.includes(args[0].id)) return;
        c.seen.push(args[0].id);
        if (c.seen.length > SEEN) c.seen.shift();
      }
      this.handlers.get(m.id)?.[m.h]?.(...args);
    } else if (m.t === 'chat-ready') this.handlers.get(m.id)?.ready(decode(m.r, this));
  }

  post(m) {
    this.port?.postMessage(m);
  }

  rpc(m) {
    const id = ++this.n;
    return new Promise((ok, no) => {
      if (this.broken) return no(this.broken);
      this.waiting.set(id, [ok, no, m, !!this.port]);
      this.post({ ...m, id });
    });
  }

  /** The worker could not load (not emitted by the bundler, refused by a policy): every
   * call waiting, and every later one, rejects with `e`. */
  fail(e) {
    this.broken = e;
    for (const [, no] of this.waiting.values()) no(e);
    this.waiting.clear();
  }

  get currentUser() {
    return this.user;
  }

  startSession(request) {
    const r = encode(request);
    return this.rpc({ t: 'start', request: r }).then((result) => {
      if (result?.succeeded) this.session = r;
      return result;
    });
  }

  endSession() {
    this.session = undefined;
    return this.rpc({ t: 'end' });
  }

  _call(op, request) {
    // Text sends get their idempotency key here, so a new hub may send them again.
    if (op === OP.sendMessage && request && typeof request === 'object' && request.body !== undefined && !request.idempotencyKey) {
      request = { ...request, idempotencyKey: uuid() };
    }
    // An upload's progress listener stays here; the hub reports to it (§18).
    const l = request?.progressListener;
    if (l && typeof l === 'object') {
      const id = ++this.n;
      const done = (r) => (this.handlers.delete(id), l.onCompleted?.(r));
      this.handlers.set(id, { onStarted: () => l.onStarted?.(), onProgress: (f) => l.onProgress?.(f), onCompleted: done });
      request = { ...request, progressListener: undefined, _progress: id };
    }
    return this.rpc({ t: 'call', op, request: encode(request) });
  }

  _on(kind, observer, replay) {
    // Observers of the user's channels and presence need a session, as without sharing.
    if (kind > 2 && !this.user) throw noSession();
    const id = ++this.n;
    this.handlers.set(id, (v) => notify(observer, v));
    this.observers.set(id, kind);
    this.post({ t: 'on', id, kind });
    if (kind === 0 && !replay) notify(observer, this.user ?? null);
    return () => {
      this.handlers.delete(id);
      this.observers.delete(id);
      this.post({ t: 'off', id });
      return () => {};
    };
  }

  startChatSession(request) {
    if (!request?.channel?._topics?.self) throw new TypeError('Invalid or missing argument: channel._topics.self');
    const id = ++this.n;
    const handlers = Object.keys(request).filter((k) => typeof request[k] === 'function');
    let ready;
    const done = new Promise((r) => (ready = r));
    const own = {};
    for (const h of handlers) own[h] = (...a) => request[h](...a);
    const session = {
      channel: request.channel,
      thread: null,
      end: () => {
        this.handlers.delete(id);
        this.chats.delete(id);
        this.post({ t: 'chat-end', id });
      },
      setThread: (thread) => {
        if (!thread?._topics || typeof thread._topics !== 'object') throw new TypeError('setThread: thread must be a thread the server sent');
        session.thread = thread;
        const m = { t: 'chat-thread', id, thread: encode(thread) };
        const c = this.chats.get(id);
        if (c) c.thread = m;
        this.post(m);
      },
    };
    this.handlers.set(id, { ...own, ready: (r) => ready({ ...r, session }) });
    const m = { t: 'chat', id, request: encode(request), handlers };
    this.chats.set(id, { m, seen: [] });
    this.post(m);
    const result = { succeeded: true, failed: false, cancelled: false, session };
    Object.defineProperty(result, 'then', { value: (a, b) => done.then(a, b) });
    return result;
  }

  sendKeystrokes(request) {
    this.post({ t: 'keys', request: encode(request) });
  }

  _tables() {
    return this.waiting.size + this.handlers.size;
  }

  free() {}
}

/** The hub in the app's SharedWorker. */
function worker(r) {
  const w = new SharedWorker(new URL('./shared-worker.js', import.meta.url), { type: 'module', name: 'chatkitty-wasm' });
  w.onerror = () =>
    r.fail(new Error('chatkitty-wasm: its shared worker (shared-worker.js) could not load; serve it beside shared.js, or leave shareConnection off.'));
  r.attach(w.port);
}

/** No SharedWorker (Chrome on Android, some webviews): the tab holding the Web Lock
 * `chatkitty-wasm-hub` runs the hub; the others reach it over the BroadcastChannel
 * `chatkitty-wasm`, in envelopes `{to, from, m}` addressed by tab id. When that tab
 * goes, its lock goes to a waiting tab, which runs a hub and says so (`{t: 'hub', id}`);
 * every tab then attaches to it and tells it what it had going (§18.1). */
function elected(r) {
  const me = uuid();
  const bc = new BroadcastChannel('chatkitty-wasm');
  /** The tab whose hub this tab uses; `ports` (tab id → port) while this tab is it. */
  let hub, ports;
  const port = { onmessage: null, postMessage: (m) => hub && bc.postMessage({ to: hub, from: me, m }) };
  bc.onmessage = ({ data: d }) => {
    if (d.t === 'hub') {
      if (d.id !== hub && !ports) (hub = d.id), r.attach(port);
    } else if (d.t === 'who') {
      if (ports) bc.postMessage({ t: 'hub', id: me });
    } else if (d.to === me) {
      if (!ports) return port.onmessage?.({ data: d.m });
      let p = ports.get(d.from);
      if (!p) {
        ports.set(d.from, (p = { onmessage: null, postMessage: (m) => bc.postMessage({ to: d.from, m }) }));
        serve(p);
      }
      // The tab's port goes with the tab (the lock it names in its hello).
      if (d.m?.t === 'hello') navigator.locks.request(d.m.lock, () => void ports.delete(d.from));
      p.onmessage?.({ data: d.m });
    }
  };
  let serve;
  navigator.locks.request('chatkitty-wasm-hub', async () => {
    ({ serve } = await import('./hub.js'));
    ports = new Map();
    const own = new MessageChannel();
    serve(own.port1);
    hub = me;
    r.attach(own.port2);
    bc.postMessage({ t: 'hub', id: me });
    // Held until this tab goes.
    return new Promise(() => {});
  });
  bc.postMessage({ t: 'who' });
}

/** Connects `kitty` (client.js) to the hub of its origin; its `_k` becomes the Remote. */
export async function remote(kitty) {
  const lock = `chatkitty-wasm-tab-${uuid()}`;
  // Held until this tab goes: the hub then cleans up after it.
  if (navigator.locks) {
    await new Promise((held) => navigator.locks.request(lock, () => (held(), new Promise(() => {}))));
  }
  const r = new Remote();
  const c = kitty._config;
  r.hello = {
    t: 'hello', lock,
    config: { apiKey: c.apiKey, host: c.host, isSecure: c.isSecure, minReconnectDelay: c.minReconnectDelay, maxReconnectDelay: c.maxReconnectDelay, sendTimeout: c.sendTimeout },
  };
  if (globalThis.SharedWorker) worker(r);
  else elected(r);
  kitty._k = r;
  for (const register of kitty._queue) register(r);
  kitty._queue = undefined;
  // client.js's methods wait for the WebAssembly module, which this tab never loads:
  // these go to the worker instead (with the offline extension's hooks, §17).
  kitty._call = (op, request) => {
    if (NAS[op] && !r.user) throw noSession();
    const f = () => r._call(op, request);
    return kitty._ob ? kitty._ob.call(op, request, f) : f();
  };
  kitty._on = (kind, observer) => r._on(kind, observer);
  kitty.startChatSession = (request) => r.startChatSession(kitty._ob?.chat(request) ?? request);
  kitty.sendKeystrokes = (request) => {
    if (!r.user) throw noSession();
    r.sendKeystrokes(request);
  };
  return r;
}
