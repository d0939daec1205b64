// chatkitty-wasm: a tab's side of `shareConnection: true` (docs/api.md §18). The tab's
// ChatKitty gets a `Remote` in place of the wasm-bindgen client: the same methods
// (`_call`, `_on`, `startSession`, `startChatSession`, …), carried out by the SharedWorker
// (shared-worker.js) that owns the one connection of all the app's tabs. Answers and
// events come back over the tab's MessagePort, made cloneable by wire.js.

import { encode, decode, uuid } from './wire.js';
import { NAS } from './surface.js';

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

class Remote {
  constructor(port) {
    this.port = port;
    this.n = 0;
    this.waiting = new Map();
    this.handlers = new Map();
    this.user = undefined;
    port.onmessage = ({ data: m }) => {
      if (m.t === 'user') this.user = decode(m.u, this) ?? undefined;
      else if (m.t === 'ok' || m.t === 'err') {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        w?.[m.t === 'ok' ? 0 : 1](decode(m.r, this));
      } else if (m.t === 'ev') this.handlers.get(m.id)?.(decode(m.v, this));
      else if (m.t === 'chat') this.handlers.get(m.id)?.[m.h]?.(...decode(m.args, this));
      else if (m.t === 'chat-ready') this.handlers.get(m.id)?.ready(decode(m.r, this));
    };
  }

  rpc(m) {
    const id = ++this.n;
    return new Promise((ok, no) => {
      if (this.broken) return no(this.broken);
      this.waiting.set(id, [ok, no]);
      this.port.postMessage({ ...m, id });
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
    return this.rpc({ t: 'start', request: encode(request) });
  }

  endSession() {
    return this.rpc({ t: 'end' });
  }

  _call(op, request) {
    return this.rpc({ t: 'call', op, request: encode(request) });
  }

  _on(kind, observer, replay) {
    // Observers of the user's channels and presence need a session, as without sharing.
    if (kind > 2 && !this.user) throw noSession();
    const id = ++this.n;
    this.handlers.set(id, (v) => notify(observer, v));
    this.port.postMessage({ t: 'on', id, kind });
    if (kind === 0 && !replay) notify(observer, this.user ?? null);
    return () => {
      this.handlers.delete(id);
      this.port.postMessage({ t: 'off', id });
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
        this.port.postMessage({ t: 'chat-end', id });
      },
    };
    this.handlers.set(id, { ...own, ready: (r) => ready({ ...r, session }) });
    this.port.postMessage({ t: 'chat', id, request: encode(request), handlers });
    const result = { succeeded: true, failed: false, cancelled: false, session };
    Object.defineProperty(result, 'then', { value: (a, b) => done.then(a, b) });
    return result;
  }

  sendKeystrokes(request) {
    this.port.postMessage({ t: 'keys', request: encode(request) });
  }

  _tables() {
    return this.waiting.size + this.handlers.size;
  }

  free() {}
}

/** Connects `kitty` (client.js) to the app's SharedWorker; its `_k` becomes the Remote. */
export async function remote(kitty) {
  const lock = `chatkitty-wasm-tab-${uuid()}`;
  // Held until this tab goes: the worker then cleans up after it.
  if (navigator.locks) {
    await new Promise((held) => navigator.locks.request(lock, () => (held(), new Promise(() => {}))));
  }
  const w = new SharedWorker(new URL('./shared-worker.js', import.meta.url), { type: 'module', name: 'chatkitty-wasm' });
  const r = new Remote(w.port);
  w.onerror = () =>
    r.fail(new Error('chatkitty-wasm: its shared worker (shared-worker.js) could not load; serve it beside shared.js, or leave shareConnection off.'));
  const c = kitty._config;
  w.port.postMessage({
    t: 'hello', lock,
    config: { apiKey: c.apiKey, host: c.host, isSecure: c.isSecure, minReconnectDelay: c.minReconnectDelay, maxReconnectDelay: c.maxReconnectDelay, sendTimeout: c.sendTimeout },
  });
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
