// chatkitty-wasm: the SharedWorker that owns the connection of every tab of an app with
// `shareConnection: true` (docs/api.md §17): one ChatKitty (socket and core) per API key,
// host and user, whatever the number of tabs. Each tab talks to it through a MessagePort
// (shared.js); the worker runs the calls, and forwards answers, observer and chat-session
// events to the tab that asked. It decides nothing of the API itself: it is a driver
// between the tabs and one client.
import ChatKitty from './index.js';
import { encode } from './shared.js';

/** key (apiKey, host, secure) → {kitty, users: count of tabs with a session} */
const clients = new Map();

function clientOf(config) {
  const key = `${config.apiKey}\n${config.host}\n${config.isSecure}`;
  let c = clients.get(key);
  if (!c) clients.set(key, (c = { kitty: new ChatKitty({ ...config, shareConnection: false }), tabs: new Set() }));
  return c;
}

function tab(port) {
  let c;
  let started = false;
  /** id → unsubscribe / chat session, this tab's. */
  const subs = new Map();
  const pages = new Map();
  const post = (m) => port.postMessage(m);
  const answer = (id, p) =>
    Promise.resolve(p).then(
      (r) => post({ t: 'ok', id, r: encode(r, pages) }),
      (e) => post({ t: 'err', id, r: encode(e, pages) }),
    );
  const end = () => {
    for (const s of subs.values()) s();
    subs.clear();
    pages.clear();
    if (c && started) {
      started = false;
      c.tabs.delete(port);
      // The last tab with a session ends it.
      if (!c.tabs.size) return c.kitty.endSession();
    }
  };
  port.onmessage = ({ data: m }) => {
    try {
      switch (m.t) {
        case 'hello': {
          c = clientOf(m.config);
          // The tab holds a lock until it goes: granted to us then (closed, crashed).
          navigator.locks?.request(m.lock, () => end());
          const off = c.kitty.onCurrentUserChanged((u) => post({ t: 'user', u: encode(u) }));
          subs.set('user', off);
          return;
        }
        case 'start': {
          const k = c.kitty;
          const mark = (r) => {
            if (r.succeeded && !started) {
              started = true;
              c.tabs.add(port);
            }
            return r;
          };
          // A session of this user is live: this tab shares it.
          if (k.currentUser && k.currentUser.name === m.request?.username) {
            return answer(m.id, mark({ succeeded: true, failed: false, cancelled: false, session: { user: k.currentUser } }));
          }
          return answer(m.id, Promise.resolve(k.startSession(m.request)).then(mark));
        }
        case 'end':
          return answer(m.id, end());
        case 'call':
          return answer(m.id, c.kitty._call(m.op, m.request));
        case 'page': {
          const p = pages.get(m.ref);
          return answer(m.id, p ? p[m.dir]() : Promise.reject(new Error('page gone')));
        }
        case 'on': {
          const off = c.kitty._on(m.kind, (v) => post({ t: 'ev', id: m.id, v: encode(v) }), m.kind === 0);
          subs.set(m.id, off);
          return;
        }
        case 'off':
          subs.get(m.id)?.();
          subs.delete(m.id);
          return;
        case 'chat': {
          const request = { ...m.request };
          for (const h of m.handlers) request[h] = (...args) => post({ t: 'chat', id: m.id, h, args: encode(args) });
          const r = c.kitty.startChatSession(request);
          subs.set(m.id, () => r.session?.end());
          post({ t: 'ok', id: m.id, r: encode({ ...r, session: { ...r.session, end: undefined, setThread: undefined } }) });
          Promise.resolve(r).then((done) => post({ t: 'chat-ready', id: m.id, r: encode({ ...done, session: undefined }) }));
          return;
        }
        case 'chat-end':
          subs.get(m.id)?.();
          subs.delete(m.id);
          return;
        case 'keys':
          c.kitty.sendKeystrokes(m.request);
          return;
      }
    } catch (e) {
      if (m.id != null) post({ t: 'err', id: m.id, r: encode(e) });
    }
  };
}

self.onconnect = (e) => tab(e.ports[0]);
