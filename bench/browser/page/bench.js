// The browser side of the session, throughput and latency benchmarks: either client
// (the official chatkitty@1.58.2 or our wasm SDK) behind the same few functions, so
// both are measured by the same code. Times are performance.now() of this page, or
// wall time (timeOrigin + now) where two pages compare.
import Official from 'chatkitty';
import Ours from 'chatkitty-wasm';

const CLIENTS = { official: Official, ours: Ours };

// When did the most recent WebSocket open? Both clients construct the global
// WebSocket at call time, so a subclass sees every socket they open.
let lastOpen = 0;
const NativeWebSocket = window.WebSocket;
class TappedWebSocket extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('open', () => { lastOpen = performance.now(); });
  }
}
window.WebSocket = TappedWebSocket;

const wall = () => performance.timeOrigin + performance.now();

const HANDLERS = ['onReceivedKeystrokes', 'onTypingStarted', 'onTypingStopped',
  'onParticipantEnteredChat', 'onParticipantLeftChat', 'onParticipantPresenceChanged'];

function chatRequest(channel, onReceivedMessage) {
  const req = { channel, onReceivedMessage };
  for (const h of HANDLERS) req[h] = () => {};
  return req;
}

let kitty = null;
let received = null;

window.bench = {
  /** `n` sessions, each on a fresh instance: startSession → result, then endSession (timed too). */
  async sessions(kind, config, n, usernames) {
    const ChatKitty = CLIENTS[kind];
    const out = [];
    for (let i = 0; i < n; i++) {
      const k = new ChatKitty(config);
      lastOpen = 0;
      const t0 = performance.now();
      const r = await k.startSession({ username: usernames[i % usernames.length] });
      const t1 = performance.now();
      if (!r.succeeded) throw new Error(`startSession failed: ${JSON.stringify(r.error)}`);
      const sample = { total: t1 - t0, afterOpen: lastOpen ? t1 - lastOpen : null, open: lastOpen ? lastOpen - t0 : null };
      await k.endSession();
      sample.end = performance.now() - t1;
      out.push(sample);
      // The pause the driver sets (session.mjs, PAUSE_MS).
      if (globalThis.PAUSE_MS) await new Promise((r) => setTimeout(r, globalThis.PAUSE_MS));
    }
    return out;
  },

  /** A session on a fresh instance. */
  async start(kind, config, username) {
    kitty = new CLIENTS[kind](config);
    const s = await kitty.startSession({ username });
    if (!s.succeeded) throw new Error(`startSession: ${JSON.stringify(s.error)}`);
  },

  /** The DIRECT channel with `peer`, and a chat session counting onReceivedMessage. */
  async chat(peer) {
    const c = await kitty.createChannel({ type: 'DIRECT', members: [{ username: peer }] });
    if (!c.succeeded) throw new Error(`createChannel: ${JSON.stringify(c.error)}`);
    received = { count: 0, first: 0, last: 0, target: Infinity, done: null, latencies: [] };
    const r = kitty.startChatSession(chatRequest(c.channel, (message) => {
      const now = performance.now();
      const w = wall();
      received.count += 1;
      if (received.count === 1) received.first = now;
      received.last = now;
      const body = message.body;
      if (typeof body === 'string' && body.startsWith('lat:')) {
        received.latencies.push(w - Number(body.split(':')[2]));
      }
      if (received.count >= received.target && received.done) {
        const d = received.done;
        received.done = null;
        d();
      }
    }));
    if (!r.succeeded) throw new Error('startChatSession failed');
    // Ours is awaitable (settles once every subscription is confirmed); the official
    // client's is not: give its subscriptions a moment.
    if (typeof r.then === 'function') await r; else await new Promise((ok) => setTimeout(ok, 1000));
    window.channel = c.channel;
    return c.channel.id;
  },

  /** start, then chat. */
  async join(kind, config, username, peer) {
    await this.start(kind, config, username);
    return this.chat(peer);
  },

  /** Resolves when `target` messages in total have been received. */
  waitReceived(target) {
    return new Promise((ok) => {
      received.target = target;
      const finish = () => ok({ count: received.count, first: received.first, last: received.last });
      if (received.count >= target) finish(); else received.done = finish;
    });
  },

  resetReceived() {
    received.count = 0;
    received.first = 0;
    received.last = 0;
    received.latencies = [];
  },

  latencies() { return received.latencies; },
  now() { return performance.now(); },

  /** Sends `n` messages, one every `intervalMs`, each stamped with its wall time. */
  async sendStamped(n, intervalMs, tag) {
    const pending = [];
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const due = start + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
      pending.push(kitty.sendMessage({ channel: window.channel, body: `lat:${tag}-${i}:${wall()}` }));
    }
    const results = await Promise.all(pending);
    return results.filter((r) => !r.succeeded).length;
  },

  async end() {
    if (kitty) await kitty.endSession();
    kitty = null;
  },
};
window.benchReady = true;
document.getElementById('status').textContent = 'ready';
