// One small adapter in front of either client, so a scenario written once drives the
// official chatkitty@1.58.2 client or our wasm SDK. Each page (tab) holds one user.
//
// Everything crossing to the Node driver must be JSON: results are serialised, live
// objects (paginators, chat sessions) are kept here and named by a ref.
import Official from 'chatkitty';
import Ours from 'chatkitty-wasm';

const CLIENTS = { official: Official, ours: Ours };
const HANDLERS = [
  'onReceivedMessage', 'onReceivedKeystrokes', 'onTypingStarted', 'onTypingStopped',
  'onParticipantEnteredChat', 'onParticipantLeftChat', 'onParticipantPresenceChanged',
  'onEventTriggered', 'onMessageUpdated', 'onChannelUpdated', 'onMessageRead',
  'onMessageReactionAdded', 'onMessageReactionRemoved', 'onThreadReceivedMessage',
  'onThreadReceivedKeystrokes', 'onThreadTypingStarted', 'onThreadTypingStopped',
];

const refs = new Map();
const chatResults = new Map();
let nextRef = 1;
const log = [];

function keep(obj) {
  const ref = nextRef++;
  refs.set(ref, obj);
  return ref;
}

function plain(v) {
  return v === undefined ? null : JSON.parse(JSON.stringify(v, (k, x) => (typeof x === 'function' ? undefined : x)));
}

function serialize(result) {
  if (result === undefined || result === null || typeof result !== 'object') return { value: result ?? null };
  const out = {};
  for (const key of Object.keys(result)) {
    const v = result[key];
    if (key === 'paginator' && v) out.paginator = paginator(v);
    else if (key === 'session' && v && typeof v.end === 'function') {
      out.session = { ref: keep(v), channel: plain(v.channel), thread: plain(v.thread ?? null) };
    } else if (typeof v !== 'function') out[key] = plain(v);
  }
  // Getters on class-based results (hasNextPage…) are not own keys; read the flags.
  for (const flag of ['succeeded', 'failed', 'cancelled']) {
    if (!(flag in out) && flag in result) out[flag] = result[flag];
  }
  return out;
}

function paginator(p) {
  return { ref: keep(p), items: plain(p.items), hasNextPage: !!p.hasNextPage, hasPrevPage: !!p.hasPrevPage };
}

function record(source, handler, args) {
  log.push({ source, handler, args: args.map(plain), at: performance.now() });
}

async function settle(promiseOrValue) {
  try {
    const value = await promiseOrValue;
    return serialize(value);
  } catch (e) {
    return { rejected: plain({ error: e?.error ?? e?.name, message: e?.message ?? String(e) }) };
  }
}

window.harness = {
  kind: null,
  kitty: null,
  log,

  init(kind, config) {
    const ChatKitty = CLIENTS[kind];
    if (!ChatKitty) throw new Error(`unknown client kind ${kind}`);
    this.kind = kind;
    this.kitty = new ChatKitty(config);
    for (const obs of ['onCurrentUserChanged', 'onCurrentUserOnline', 'onCurrentUserOffline']) {
      this.kitty[obs]((...args) => record('instance', obs, args));
    }
    document.getElementById('status').textContent = `ready: ${kind}`;
    return kind;
  },

  /** Calls `kitty[method](arg)`; a synchronous throw is reported as `thrown`. */
  async call(method, ...args) {
    let ret;
    try {
      ret = this.kitty[method](...args);
    } catch (e) {
      return { thrown: plain({ error: e?.error, message: e?.message, name: e?.name }) };
    }
    return settle(ret);
  },

  /** startChatSession with every handler recorded; returns the serialised result. */
  startChatSession(request, { only } = {}) {
    const req = { ...request };
    let session = null;
    for (const h of HANDLERS) {
      if (only && !only.includes(h)) continue;
      req[h] = (...args) => record(session, h, args);
    }
    let result;
    try {
      result = this.kitty.startChatSession(req);
    } catch (e) {
      return { thrown: plain({ error: e?.error, message: e?.message }) };
    }
    const ref = keep(result.session);
    session = ref;
    chatResults.set(ref, result);
    return { succeeded: result.succeeded, session: { ref, channel: plain(result.session.channel) }, awaitable: typeof result.then === 'function' };
  },

  /**
   * Waits until the chat session's subscriptions are confirmed. Our SDK's result is
   * awaitable for exactly that; the official client gives no signal, so the harness
   * waits a moment for its subscriptions to be acknowledged.
   */
  async awaitChatSession(ref) {
    const result = chatResults.get(ref);
    if (typeof result?.then === 'function') {
      const settled = await result;
      return { thenable: typeof settled?.then === 'function', succeeded: settled?.succeeded ?? null };
    }
    await new Promise((r) => setTimeout(r, 300));
    return { thenable: false, succeeded: true };
  },

  endChatSession(ref) {
    refs.get(ref).end();
    return true;
  },

  /** Registers an instance observer and records its calls. */
  observe(method) {
    try {
      const unsubscribe = this.kitty[method]((...args) => record('instance', method, args));
      return { ref: keep(unsubscribe) };
    } catch (e) {
      return { thrown: plain({ error: e?.error, message: e?.message }) };
    }
  },

  /** Calls an observer's unsubscribe function. */
  unsubscribe(ref) {
    const fn = refs.get(ref);
    return typeof fn === 'function' ? typeof fn() : 'none';
  },

  async page(ref, direction) {
    const p = refs.get(ref);
    try {
      const next = await (direction === 'next' ? p.nextPage() : p.prevPage());
      return { paginator: paginator(next) };
    } catch (e) {
      return { rejected: plain({ error: e?.error, message: e?.message }) };
    }
  },

  /**
   * Sends a generated file (byte i = i % 251) with a progress listener; returns the
   * result and the progress callbacks seen.
   */
  async sendFile(target, { size, name, type }) {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = i % 251;
    const file = new File([bytes], name, { type });
    const progress = [];
    const progressListener = {
      onStarted: () => progress.push('started'),
      onProgress: (p) => progress.push(p),
      onCompleted: (r) => progress.push(`completed:${r}`),
    };
    let ret;
    try {
      ret = this.kitty.sendMessage({ ...target, file, progressListener });
    } catch (e) {
      return { thrown: plain({ error: e?.error, message: e?.message }) };
    }
    const result = await settle(ret);
    return { ...result, progress };
  },

  /** Downloads a URL; size and a checksum of the bytes. */
  async download(url) {
    const r = await fetch(url);
    const buf = new Uint8Array(await r.arrayBuffer());
    let ok = true;
    for (let i = 0; i < buf.length; i++) if (buf[i] !== i % 251) { ok = false; break; }
    return { status: r.status, size: buf.length, pattern: ok, type: r.headers.get('content-type') };
  },

  currentUser() {
    return plain(this.kitty.currentUser ?? null);
  },

  sendKeystrokes(request) {
    try {
      return { value: plain(this.kitty.sendKeystrokes(request)) };
    } catch (e) {
      return { thrown: plain({ error: e?.error, message: e?.message }) };
    }
  },
};

window.harnessClasses = CLIENTS;
window.harnessReady = true;
