// chatkitty-wasm: the durable outbox (docs/api.md §17), loaded only by
// `new ChatKitty({ offline: true })` (a separate module: the default bundle does not
// carry it).
//
// Split like the SDK itself: `Outbox` decides — which entries go out and when, what an
// answer means for an entry, what the app is told — and does no I/O. It is fed by the
// page (calls, answers, the connection coming back) and carries out its effects through
// a store (`idbStore`, IndexedDB, in browsers; a Map in the Node tests) and `send`
// (the core's sendMessage, which sends with the entry's idempotency key). The order is
// the guarantee: an entry is committed to the store before it is handed to the core, so
// a page closed or killed at any point either never returned from `sendMessage` or left
// the entry behind for the next page of the same app and user, which sends it with the
// same key; the server stores a message once per key (docs/protocol.md).
//
// The local cache (`Cache`, docs/api.md §17.4) is built the same way: it decides what to
// keep (the current user, the first page of the channel list, the newest messages of
// the channels read most recently, live messages of chat sessions) within its bounds,
// and when a read can be answered from it (no connection); the store keeps it per user.

import { OP } from './surface.js';

/** Errors after which sending again can succeed: the entry stays pending. */
const RETRY = new Set(['ChatKittyTimeoutError', 'ChatKittyConnectionError', 'NoActiveSessionError']);

/** The fields of a send request an entry keeps (text and external-file messages). */
const KEEP = ['channel', 'thread', 'message', 'body', 'file', 'groupTag', 'properties'];

/** The other calls the outbox keeps (docs/api.md §17.1): marking read and editing, which
 * the server may be asked to do twice (the second time changes nothing), so an entry whose
 * answer was lost is simply sent again. Reactions and deletions are not among them: a
 * second one is refused. */
const ACTIONS = ['readChannel', 'readMessage', 'readThread', 'editMessage'];

/** True if `sendMessage(request)` goes through the outbox: a text or an external file
 * (`{url, name, …}` — uploads of File/Blob/`{uri}` go straight to the core). */
export const durable = (request) =>
  request != null && (typeof request.body === 'string'
    ? request.file === undefined
    : request.file != null && typeof request.file.url === 'string' && request.body === undefined);

const uuid = () =>
  globalThis.crypto?.randomUUID?.() ??
  'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0;
    return (c === 'x' ? r : (r & 3) | 8).toString(16);
  });

/** The outbox's state machine. `store`: `{put(entry), delete(key), list(user)}` each a
 * Promise; `send(request, op)`: a Promise of the call's result; `now()`: ms. */
export class Outbox {
  constructor(store, send, now = Date.now) {
    this.store = store;
    this.send = send;
    this.now = now;
    /** This page's entries of the current user, by key. */
    this.entries = new Map();
    /** Keys handed to the core and not answered yet. */
    this.flight = new Set();
    /** key → resolve of the app's Promise (entries made by this page). */
    this.waiting = new Map();
    this.listeners = new Set();
    this.user = null;
    this.ready = Promise.resolve();
  }

  /** Whether the call `op` with `request` goes through the outbox. */
  takes(op, request) {
    if (this.user == null || request == null || typeof request !== 'object') return false;
    return op === OP.sendMessage ? durable(request) : ACTIONS.some((n) => OP[n] === op);
  }

  /** A call through the outbox (`op`: a message send if absent): the entry is written,
   * then sent. */
  add(request, op = OP.sendMessage) {
    const name = Object.keys(OP).find((n) => OP[n] === op);
    const entry = { key: uuid(), user: this.user, state: 'pending', createdTime: this.now(), request: {} };
    if (name !== 'sendMessage') entry.op = name;
    for (const k of op === OP.sendMessage ? KEEP : Object.keys(request)) if (request[k] !== undefined) entry.request[k] = request[k];
    // As JSON (what goes on the wire anyway): an app's extra non-cloneable fields go.
    entry.request = JSON.parse(JSON.stringify(entry.request));
    this.entries.set(entry.key, entry);
    const result = new Promise((resolve) => this.waiting.set(entry.key, resolve));
    this.store.put(entry).then(
      () => {
        this.changed();
        this.go(entry);
      },
      (e) => this.settle(entry, { succeeded: false, failed: true, cancelled: false, error: storeError(e) }),
    );
    return result;
  }

  /** A session started (or resumed) as `user` (a username; null: ended). Loads what
   * earlier pages of this user left and sends it; the Promise resolves once loaded. */
  signedIn(user) {
    if (user !== this.user) {
      this.user = user;
      this.entries.clear();
      // The page's Promises of the previous user's entries: their entries stay stored
      // and go with that user's next session.
      for (const [key, resolve] of this.waiting) {
        const error = new Error('The session ended; the message stays in the outbox.');
        error.name = error.error = 'ChatKittyConnectionError';
        resolve({ succeeded: false, failed: true, cancelled: false, error });
        this.waiting.delete(key);
      }
      this.ready = user == null ? Promise.resolve(this.changed()) : this.load(user);
    }
    return this.ready;
  }

  async load(user) {
    const stored = await this.store.list(user).catch(() => []);
    if (this.user !== user) return;
    stored.sort((a, b) => a.createdTime - b.createdTime);
    for (const e of stored) if (!this.entries.has(e.key)) this.entries.set(e.key, e);
    this.changed();
    this.online();
  }

  /** The entries once the current user's are loaded. */
  async get() {
    await this.ready;
    return this.list();
  }

  /** The connection is back: every pending entry not in flight goes again. */
  online() {
    for (const e of this.entries.values()) if (e.state === 'pending') this.go(e);
  }

  go(entry) {
    if (this.flight.has(entry.key) || entry.user !== this.user || this.entries.get(entry.key) !== entry) return;
    this.flight.add(entry.key);
    let sent;
    try {
      // A message goes with the entry's key (the server stores it once); the other
      // actions may be carried out twice (ACTIONS).
      sent = Promise.resolve(entry.op
        ? this.send(entry.request, OP[entry.op])
        : this.send({ ...entry.request, idempotencyKey: entry.key }, OP.sendMessage));
    } catch (e) {
      sent = Promise.resolve({ failed: true, error: e });
    }
    sent.then((r) => this.answered(entry, r), (e) => this.answered(entry, { failed: true, error: e }));
  }

  answered(entry, result) {
    this.flight.delete(entry.key);
    if (result?.succeeded) {
      this.entries.delete(entry.key);
      this.store.delete(entry.key).then(() => this.changed(), () => this.changed());
      this.settle(entry, result);
    } else if (RETRY.has(result?.error?.error ?? result?.error?.name)) {
      // Stays pending; sent again when the connection returns (or the next page starts).
    } else {
      entry.state = 'failed';
      entry.error = plainError(result?.error);
      this.store.put(entry).then(() => this.changed(), () => this.changed());
      this.settle(entry, result);
    }
  }

  settle(entry, result) {
    const resolve = this.waiting.get(entry.key);
    this.waiting.delete(entry.key);
    resolve?.(result);
  }

  /** The current user's entries, oldest first, as the app sees them. */
  list() {
    return [...this.entries.values()].map((e) => ({
      key: e.key,
      op: e.op ?? 'sendMessage',
      state: this.flight.has(e.key) ? 'sending' : e.state,
      createdTime: new Date(e.createdTime).toISOString(),
      request: e.request,
      ...(e.error ? { error: e.error } : {}),
    }));
  }

  /** Drops an entry (a failed one the user gave up on); a pending one is no longer sent
   * again by this page (one already handed to the connection may still arrive). */
  async discard(key) {
    const e = this.entries.get(key);
    if (!e) return false;
    this.entries.delete(key);
    await this.store.delete(key);
    this.settle(e, { succeeded: false, failed: true, cancelled: true, error: plainError({ error: 'ChatKittyCancelledError', message: 'Removed from the outbox.' }) });
    this.changed();
    return true;
  }

  on(f) {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  changed() {
    if (!this.listeners.size) return;
    const list = this.list();
    for (const f of this.listeners) {
      try {
        f(list);
      } catch (e) {
        console.error(e);
      }
    }
  }
}

const plainError = (e) => ({ error: e?.error ?? e?.name ?? 'Error', message: String(e?.message ?? e) });
const storeError = (e) => {
  const x = new Error(`The outbox could not be written (${e?.message ?? e}).`);
  x.name = x.error = 'ChatKittyOutboxError';
  return x;
};

/** The outbox in IndexedDB: one database per app and host, entries keyed by their
 * idempotency key and listed by user. `put` resolves once its transaction committed. */
export function idbStore(name) {
  const range = (user) => IDBKeyRange.bound([user, ''], [user, '\uffff']);
  const req = (r) => new Promise((ok, no) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  const opening = new Promise((ok, no) => {
    const r = indexedDB.open(name, 2);
    r.onupgradeneeded = (e) => {
      if (e.oldVersion < 1) r.result.createObjectStore('outbox', { keyPath: 'key' }).createIndex('user', 'user');
      r.result.createObjectStore('cache', { keyPath: ['user', 'name'] });
    };
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  let db;
  opening.then((d) => {
    db = d;
    // A newer version of the package upgrading the database in another tab: let it.
    d.onversionchange = () => d.close();
  }, () => {});
  const write = (f, table = 'outbox', durability = 'strict') => {
    const run = (d) => new Promise((ok, no) => {
      const t = d.transaction(table, 'readwrite', { durability });
      f(t.objectStore(table));
      t.oncomplete = () => ok();
      t.onerror = t.onabort = () => no(t.error);
    });
    // Issued within the call when the database is open.
    return db ? run(db) : opening.then(run);
  };
  return {
    ready: opening,
    put: (entry) => write((s) => s.put(entry)),
    delete: (key) => write((s) => s.delete(key)),
    list: (user) => opening.then((d) => req(d.transaction('outbox').objectStore('outbox').index('user').getAll(user))),
    // The cache: records {user, name, value}; a user's records are one key range.
    cacheRead: (user) => opening.then((d) => req(d.transaction('cache').objectStore('cache').getAll(range(user)))),
    // Each user with a cache and when they last signed in (their `@` record; 0 without).
    cacheUsers: () => opening.then(async (d) => {
      const store = d.transaction('cache').objectStore('cache');
      const users = [...new Set((await req(store.getAllKeys())).map((k) => k[0]))];
      return Promise.all(users.map((user) => req(store.get([user, '@'])).then((r) => ({ user, time: r?.value.time ?? 0 }))));
    }),
    cachePut: (user, name, value) => write((s) => s.put({ user, name, value }), 'cache', 'relaxed'),
    cacheDelete: (user, name) =>
      write((s) => (user == null ? s.clear() : s.delete(name == null ? range(user) : [user, name])), 'cache', 'relaxed'),
  };
}

/** The store of an app and host (one per page). */
const stores = new Map();
const storeOf = (c) => {
  const name = `chatkitty-wasm:${c.apiKey}@${c.isSecure === false ? 'ws' : 'wss'}://${c.host || 'api.chatkitty.com'}`;
  if (!stores.has(name)) stores.set(name, idbStore(name));
  return stores.get(name);
};

/** `readCache` before the WebAssembly module has loaded: straight from the store. */
export const readCache = (request, config) =>
  typeof request?.username === 'string'
    ? new Cache(storeOf(config)).read(request.username)
    : Promise.reject(new TypeError('readCache: username must be a string'));

/** The cache's bounds: the newest messages kept per channel, the channels kept, and the
 * users of an app and host whose caches a browser profile keeps (the ones signed in most
 * recently; docs/api.md §17.4). */
export const MESSAGES = 50;
export const CHANNELS = 20;
export const USERS = 5;

const only = (request, keys) => Object.keys(request ?? {}).every((k) => keys.includes(k) || request[k] == null);
const filter = (request, key) => {
  const f = request?.filter;
  return f != null && Object.keys(f).length === 1 && f[key] === true;
};
/** The record a read is kept in: the channel list (no filter, or only `joined: true`),
 * a channel's messages (no filter: `m:<id>`; only `mainThread: true`: `mt:<id>`), the
 * user; undefined for every other read. */
const recordOf = (op, request) => {
  if (op === OP.getChannels) return only(request, []) || (only(request, ['filter']) && filter(request, 'joined')) ? 'channels' : undefined;
  if (op === OP.getCurrentUser) return 'user';
  if (op !== OP.getMessages || request?.channel?.id == null) return;
  if (only(request, ['channel'])) return `m:${request.channel.id}`;
  if (only(request, ['channel', 'filter']) && filter(request, 'mainThread')) return `mt:${request.channel.id}`;
};
const byIdDesc = (a, b) => b.id - a.id;
const noPage = () => {
  const e = new Error("You've requested a page that doesn't exists.");
  e.name = e.error = 'PageOutOfBoundsError';
  return Promise.reject(e);
};

/** The local cache's decisions. `store`: `cacheRead(user)` (its records `{name, value}`),
 * `cachePut(user, name, value)`, `cacheDelete(user, name?)` (no name: all of the user's;
 * no user: everyone's), `cacheUsers()` (`[{user, time}]`: who has a cache, signed in
 * when), each a Promise. Records: `user`, `channels` (the first page of
 * `getChannels`), `m:<channel id>` (the newest messages of a channel, newest first). */
export class Cache {
  constructor(store, now = Date.now) {
    this.store = store;
    this.now = now;
    this.user = null;
    /** name → {value, time}: the current user's records. */
    this.records = new Map();
    /** Whether the connection is up (reads go to the server) or not (from the cache). */
    this.online = false;
    this.ready = Promise.resolve();
  }

  signedIn(user) {
    if (user === this.user) return this.ready;
    const was = this.user;
    this.user = user;
    this.records = new Map();
    // A session ended: its user's cache goes (docs/api.md §17.4).
    if (user == null) return (this.ready = was == null ? Promise.resolve() : this.store.cacheDelete(was).catch(() => {}));
    this.online = true;
    return (this.ready = this.store.cacheRead(user).then(
      (rs) => {
        if (this.user === user) for (const r of rs) if (!this.records.has(r.name) && r.name !== '@') this.records.set(r.name, r.value);
        return this.trim(user).catch(() => {});
      },
      () => {},
    ));
  }

  /** Marks `user` signed in now (record `@`) and drops the caches of the users beyond
   * the `USERS` signed in most recently. */
  async trim(user) {
    await this.store.cachePut(user, '@', { time: this.now() });
    const users = await this.store.cacheUsers();
    users.sort((a, b) => b.time - a.time);
    for (const u of users.slice(USERS)) if (u.user !== this.user) await this.store.cacheDelete(u.user);
  }

  put(name, data) {
    const value = { data, time: this.now() };
    this.records.set(name, value);
    this.store.cachePut(this.user, name, value).catch(() => {});
  }

  /** A call's answer from the server: kept if it is one the cache holds. */
  seen(op, request, r) {
    if (!r?.succeeded || this.user == null) return;
    const name = recordOf(op, request);
    if (name === 'user') this.put(name, r.user);
    else if (name === 'channels') this.put(name, r.paginator.items);
    else if (name) {
      this.put(name, r.paginator.items.slice(0, MESSAGES));
      this.evict();
    } else if (op === OP.sendMessage && request?.channel && r.message) this.message(request.channel, r.message);
  }

  /** A message of `channel` that arrived live (or was sent): added to its cached page
   * (the unfiltered one: a live message may be in a thread), and as its channel's last
   * message in the cached list. */
  message(channel, m) {
    const name = `m:${channel.id}`, list = this.records.get(name);
    if (list && !list.data.some((x) => x.id === m.id)) this.put(name, [m, ...list.data].sort(byIdDesc).slice(0, MESSAGES));
    const channels = this.records.get('channels');
    const c = channels?.data.find((x) => x.id === channel.id);
    if (c && !(c.lastReceivedMessage?.id >= m.id)) {
      this.put('channels', channels.data.map((x) => (x === c ? { ...x, lastReceivedMessage: m } : x)));
    }
  }

  /** Keeps the `CHANNELS` message lists read most recently. */
  evict() {
    const lists = [...this.records].filter(([n]) => n[0] === 'm').sort((a, b) => b[1].time - a[1].time);
    for (const [name] of lists.slice(CHANNELS)) {
      this.records.delete(name);
      this.store.cacheDelete(this.user, name).catch(() => {});
    }
  }

  /** A read answered from the cache while the connection is down, or undefined. */
  answer(op, request) {
    if (this.online || this.user == null) return;
    const name = recordOf(op, request);
    const r = name && this.records.get(name);
    if (!r) return;
    const result = { succeeded: true, failed: false, cancelled: false, cached: true, cachedTime: new Date(r.time).toISOString() };
    if (name === 'user') result.user = r.data;
    else result.paginator = { items: r.data, hasNextPage: false, hasPrevPage: false, nextPage: noPage, prevPage: noPage };
    return result;
  }

  /** What the cache holds for `user`, read from the store (before a session too). */
  async read(user) {
    const rs = user === this.user ? [...this.records].map(([name, value]) => ({ name, value })) : await this.store.cacheRead(user);
    const out = { user: null, channels: [], messages: {}, mainThreadMessages: {}, cachedTime: null };
    let time = 0;
    for (const { name, value } of rs) {
      if (name === '@') continue;
      time = Math.max(time, value.time);
      if (name === 'user') out.user = value.data;
      else if (name === 'channels') out.channels = value.data;
      else if (name.startsWith('mt:')) out.mainThreadMessages[name.slice(3)] = value.data;
      else out.messages[name.slice(2)] = value.data;
    }
    if (time) out.cachedTime = new Date(time).toISOString();
    return out;
  }

  /** Clears the current user's cache (no session: every user's of this app and host). */
  clear() {
    this.records = new Map();
    return this.store.cacheDelete(this.user);
  }
}

/** Attaches the outbox and the cache to a client.js ChatKitty (`kitty`) and its core
 * (`core`). What client.js calls: `call`, `chat`, `signedIn`, and the extension calls. */
export function attach(kitty, core, store = storeOf(kitty._config)) {
  const o = new Outbox(store, (request, op) => core._call(op, request));
  const cache = new Cache(store);
  // No argument: the client's current user.
  const signedIn = (user = core.currentUser?.name ?? null) => Promise.all([o.signedIn(user), cache.signedIn(user)]);
  core._on(0, (user) => signedIn(user?.name ?? null), true);
  core._on(1, () => {
    cache.online = true;
    o.online();
  }, true);
  core._on(2, () => (cache.online = false), true);
  signedIn(core.currentUser?.name ?? null);
  return {
    signedIn,
    /** An API call: a message send into the outbox, a read from the cache while the
     * connection is down, else `f()` (the client), its answer kept by the cache. */
    call(op, request, f = () => kitty._later((k) => k._call(op, request))) {
      if (o.takes(op, request)) return o.add(request, op).then((r) => (cache.seen(op, request, r), r));
      const cached = cache.answer(op, request);
      if (cached) return Promise.resolve(cached);
      const p = f();
      p?.then?.((r) => cache.seen(op, request, r), () => {});
      return p;
    },
    /** `startChatSession`'s request, its live messages also going to the cache. */
    chat(request) {
      const f = request?.onReceivedMessage ?? request?.onMessageReceived;
      if (typeof f !== 'function' || request.channel?.id == null) return request;
      // Every argument passes through (a reply's parent comes second).
      const on = (...args) => {
        cache.message(request.channel, args[0]);
        return f(...args);
      };
      return { ...request, onReceivedMessage: on, onMessageReceived: undefined };
    },
    getOutbox: () => o.get(),
    /** `f` now (once loaded) and on each change; its unsubscribe. */
    onOutboxChanged: (f) => {
      const off = o.on(f);
      o.get().then((list) => o.listeners.has(f) && f(list));
      return off;
    },
    discardOutboxEntry: (key) => o.discard(key),
    readCache: (request) => {
      if (typeof request?.username !== 'string') return Promise.reject(new TypeError('readCache: username must be a string'));
      return cache.ready.then(() => cache.read(request.username));
    },
    clearCache: () => cache.clear(),
  };
}
