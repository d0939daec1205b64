// chatkitty-wasm: the hub of `shareConnection: true` (docs/api.md §18): one ChatKitty
// (socket and core) per API key, host and user, whatever the number of tabs; two people
// signed in in two tabs of one browser profile have one each. Each tab talks to it
// through a port (shared.js's Remote): the hub runs the calls and sends answers,
// observer and chat-session events back to the tab that asked. It decides nothing of
// the API itself: it is a driver between the tabs and their clients. It runs in the
// SharedWorker (shared-worker.js) or, where browsers have none, in the tab elected
// through a Web Lock (shared.js).
// It uses the wasm-bindgen client directly (no client.js): a worker bundled by Vite as
// one classic script may hold no dynamic import.
import { state, init } from './loader.js';
import { ChatKitty as Core } from './chatkitty_wasm.js';
import { encode } from './wire.js';

let loading;

/** apiKey, host, secure, username → {kitty, tabs: the ports with a session on it} */
const clients = new Map();

function clientOf(config, user) {
  const key = `${config.apiKey}\n${config.host}\n${config.isSecure}\n${user}`;
  let c = clients.get(key);
  if (!c) {
    clients.set(key, (c = { kitty: new Core({ ...config, WebSocket: state.WebSocket }), tabs: new Set(), key, online: false }));
    // Whether its connection is up, for the tabs that join it later (`bind`).
    c.kitty._on(1, () => (c.online = true), true);
    c.kitty._on(2, () => (c.online = false), true);
  }
  return c;
}

/** Serves the tab at the other end of `port` (a MessagePort, or shared.js's port over a
 * BroadcastChannel). */
export function serve(port) {
  loading ??= init();
  let config;
  /** The client of this tab's session (none before startSession and after endSession). */
  let c;
  /** id → unsubscribe: this tab's observers and chat sessions on `c`. */
  const subs = new Map();
  /** id → kind: this tab's observers, registered again on each session's client. */
  const observers = new Map();
  const pages = new Map();
  /** id → this tab's chat sessions (their `setThread`). */
  const chats = new Map();
  const post = (m) => port.postMessage(m);
  const answer = (id, p) =>
    Promise.resolve(p).then(
      (r) => post({ t: 'ok', id, r: encode(r, pages) }),
      (e) => post({ t: 'err', id, r: encode(e, pages) }),
    );
  // Calls without a session (getChannel, getUser…) go to a client of no user.
  const kitty = () => (c ?? clientOf(config, '')).kitty;
  const observe = (id, kind) => subs.set(id, c.kitty._on(kind, (v) => post({ t: 'ev', id, v: encode(v) }), true));
  const bind = (client) => {
    c = client;
    c.tabs.add(port);
    subs.set('user', c.kitty._on(0, (u) => post({ t: 'user', u: encode(u) }), true));
    post({ t: 'user', u: encode(c.kitty.currentUser) });
    for (const [id, kind] of observers) observe(id, kind);
    // A tab joining a live connection is told it is online, as its own start would have.
    if (client.online) for (const [id, kind] of observers) if (kind === 1) post({ t: 'ev', id });
  };
  /** A session start that failed: the tab leaves the client it was bound to for it. */
  const unbind = () => {
    for (const s of subs.values()) s();
    subs.clear();
    c.tabs.delete(port);
    if (!c.tabs.size) clients.delete(c.key);
    c = undefined;
  };
  const end = () => {
    for (const s of subs.values()) s();
    subs.clear();
    pages.clear();
    if (!c) return;
    const client = c;
    c = undefined;
    post({ t: 'user', u: null });
    client.tabs.delete(port);
    // The last tab with a session on it ends it.
    if (!client.tabs.size) {
      clients.delete(client.key);
      return client.kitty.endSession();
    }
  };
  /** This tab's session as `username`: the live session of that user if there is one,
   * or the one another tab is starting (two tabs may start at once: the others wait for
   * it), else a new one. */
  const join = async (username, request) => {
    let client;
    while ((client = clientOf(config, username)).starting) await client.starting;
    const k = client.kitty;
    if (k.currentUser) {
      bind(client);
      return { succeeded: true, failed: false, cancelled: false, session: { user: k.currentUser } };
    }
    // Bound first, so the tab's observers hear the first connection (onCurrentUserOnline).
    bind(client);
    client.starting = Promise.resolve().then(() => k.startSession(request)).catch((e) => e);
    const r = await client.starting;
    client.starting = undefined;
    if (r instanceof Error || !r.succeeded) unbind();
    if (r instanceof Error) throw r;
    return r;
  };
  // Messages wait for the module; their order is kept, and those behind a session start
  // wait for it: they are the tab's calls on that session (a new hub gets the start of a
  // tab's live session and its calls in flight together, docs/api.md §18.1).
  let queue = loading;
  port.onmessage = ({ data: m }) => {
    queue = queue.then(() => {
      const done = handle(m);
      return m.t === 'start' ? done : undefined;
    });
  };
  const handle = (m) => {
    try {
      switch (m.t) {
        case 'hello':
          config = m.config;
          // The tab holds a lock until it goes: granted to us then (closed, crashed).
          navigator.locks?.request(m.lock, () => end());
          return;
        case 'start':
          if (c) return answer(m.id, kitty().startSession(m.request)); // SessionActiveError, as without sharing
          return answer(m.id, join(String(m.request?.username), m.request));
        case 'end':
          return answer(m.id, end());
        case 'call': {
          const p = m.request?._progress;
          if (p != null) {
            // Reported to the tab's listener, by the id it gave.
            const report = (h) => (...args) => post({ t: 'chat', id: p, h, args });
            m.request.progressListener = { onStarted: report('onStarted'), onProgress: report('onProgress'), onCompleted: report('onCompleted') };
          }
          return answer(m.id, kitty()._call(m.op, m.request));
        }
        case 'page': {
          const p = pages.get(m.ref);
          return answer(m.id, p ? p[m.dir]() : Promise.reject(new Error('This page is no longer available.')));
        }
        case 'on':
          // Kept for each session this tab has (the tab checked it may register it).
          observers.set(m.id, m.kind);
          if (c) observe(m.id, m.kind);
          return;
        case 'off':
          observers.delete(m.id);
          subs.get(m.id)?.();
          subs.delete(m.id);
          return;
        case 'chat': {
          const request = { ...m.request };
          for (const h of m.handlers) request[h] = (...args) => post({ t: 'chat', id: m.id, h, args: encode(args) });
          const r = kitty().startChatSession(request);
          chats.set(m.id, r.session);
          subs.set(m.id, () => (chats.delete(m.id), r.session?.end()));
          Promise.resolve(r).then((done) => post({ t: 'chat-ready', id: m.id, r: encode({ ...done, session: undefined }) }));
          return;
        }
        case 'chat-thread':
          chats.get(m.id)?.setThread(m.thread);
          return;
        case 'chat-end':
          subs.get(m.id)?.();
          subs.delete(m.id);
          return;
        case 'keys':
          kitty().sendKeystrokes(m.request);
          return;
      }
    } catch (e) {
      if (m.id != null) post({ t: 'err', id: m.id, r: encode(e) });
    }
  };
}

