// chatkitty-wasm: the durable outbox (docs/api.md §16), loaded only by
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

import { OP } from './surface.js';

/** Errors after which sending again can succeed: the entry stays pending. */
const RETRY = new Set(['ChatKittyTimeoutError', 'ChatKittyConnectionError', 'NoActiveSessionError']);

/** The fields of a send request an entry keeps (text and external-file messages). */
const KEEP = ['channel', 'thread', 'message', 'body', 'file', 'groupTag', 'properties'];

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
 * Promise; `send(request)`: a Promise of the SendMessageResult; `now()`: ms. */
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
    return op === OP.sendMessage && this.user != null && durable(request);
  }

  /** `sendMessage` through the outbox: the entry is written, then sent. */
  add(request) {
    const entry = { key: uuid(), user: this.user, state: 'pending', createdTime: this.now(), request: {} };
    for (const k of KEEP) if (request[k] !== undefined) entry.request[k] = request[k];
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
      sent = Promise.resolve(this.send({ ...entry.request, idempotencyKey: entry.key }));
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
  const req = (r) => new Promise((ok, no) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  const opening = new Promise((ok, no) => {
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('outbox', { keyPath: 'key' }).createIndex('user', 'user');
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  let db;
  opening.then((d) => (db = d), () => {});
  const write = (f) => {
    const run = (d) => new Promise((ok, no) => {
      const t = d.transaction('outbox', 'readwrite', { durability: 'strict' });
      f(t.objectStore('outbox'));
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
  };
}

/** Attaches an outbox to a client.js ChatKitty (`kitty`) and its core (`core`). */
export function attach(kitty, core, store) {
  const c = kitty._config;
  store ??= idbStore(`chatkitty-wasm:${c.apiKey}@${c.isSecure === false ? 'ws' : 'wss'}://${c.host || 'api.chatkitty.com'}`);
  const o = new Outbox(store, (request) => core._call(OP.sendMessage, request));
  core._on(0, (user) => o.signedIn(user?.name ?? null), true);
  o.signedIn(core.currentUser?.name ?? null);
  core._on(1, () => o.online(), true);
  return o;
}
