// One user of the soak (or leak) check, driven by tests/soak/*.mjs through
// `window.soak`. Uses the built package exactly as an app does: `import ChatKitty`.
import ChatKitty from '/pkg/index.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let kitty = null;
const state = {
  username: null,
  userIds: new Set(),
  online: 0,
  offline: 0,
  // Receivers: channel id -> [[message id, body], …] in delivery order.
  received: {},
  // Senders: counters and the acknowledged sends [[seq, message id], …].
  sending: false,
  attempts: 0,
  failed: 0,
  failures: {},
  acked: [],
  loop: null,
  burst: 0,
};

window.soak = {
  async start({ apiKey, host, username, options = {} }) {
    kitty = new ChatKitty({ apiKey, host, isSecure: false, ...options });
    state.username = username;
    kitty.onCurrentUserOnline(() => { state.online += 1; });
    kitty.onCurrentUserOffline(() => { state.offline += 1; });
    kitty.onCurrentUserChanged((u) => { if (u) state.userIds.add(u.id); });
    const r = await kitty.startSession({ username });
    if (!r.succeeded) throw new Error(`startSession: ${JSON.stringify(r.error)}`);
    return r.session.user.id;
  },

  async createChannel(name) {
    const r = await kitty.createChannel({ type: 'PUBLIC', name });
    if (!r.succeeded) throw new Error(`createChannel: ${JSON.stringify(r.error)}`);
    return r.channel.id;
  },

  async join(id) {
    const got = await kitty.getChannel(id);
    if (!got.succeeded) throw new Error(`getChannel: ${JSON.stringify(got.error)}`);
    const r = await kitty.joinChannel({ channel: got.channel });
    if (!r.succeeded && r.error?.error !== 'AlreadyAChannelMemberError') {
      throw new Error(`joinChannel: ${JSON.stringify(r.error)}`);
    }
  },

  /** A chat session per channel recording every onReceivedMessage. */
  async receive(ids) {
    for (const id of ids) {
      const { channel } = await kitty.getChannel(id);
      const log = (state.received[id] = []);
      // Each delivery with its delay after the message's creation (gap recovery shows
      // as deliveries seconds late).
      const onReceivedMessage = (m) => log.push([m.id, m.body, Date.now() - Date.parse(m.createdTime)]);
      const r = kitty.startChatSession({ channel, onReceivedMessage });
      await r;
    }
  },

  /**
   * Sends `${username} ${seq}` to channel `id` until stopped, `window` sends at a
   * time, one every `interval` ms. A failed send is retried (a new logical send, so it
   * counts in `failed`); an acknowledged one is recorded with its message id.
   */
  async send(id, { interval = 100, window = 6 } = {}) {
    const { channel } = await kitty.getChannel(id);
    state.sending = true;
    state.loop = (async () => {
      const inflight = new Set();
      let seq = 0;
      while (state.sending) {
        while (inflight.size >= window) await Promise.race(inflight);
        if (!state.sending) break;
        const k = ++seq;
        const p = (async () => {
          for (;;) {
            state.attempts += 1;
            const r = await kitty.sendMessage({ channel, body: `${state.username} ${k}` });
            if (r.succeeded) { state.acked.push([k, r.message.id]); return; }
            state.failed += 1;
            const name = r.error?.error || 'unknown';
            state.failures[name] = (state.failures[name] || 0) + 1;
            if (!state.sending) return;
            await sleep(250);
          }
        })();
        inflight.add(p);
        p.finally(() => inflight.delete(p));
        if (state.burst > 0) state.burst -= 1;
        else await sleep(interval);
      }
      await Promise.all(inflight);
    })();
  },

  /** The next `n` sends go out at once (so some are in flight when the server dies). */
  burst(n) {
    state.burst = n;
  },

  async stopSending() {
    state.sending = false;
    await state.loop;
  },

  report() {
    return {
      username: state.username,
      userIds: [...state.userIds],
      online: state.online,
      offline: state.offline,
      received: state.received,
      attempts: state.attempts,
      failed: state.failed,
      failures: state.failures,
      acked: state.acked,
    };
  },

  receivedCount() {
    return Object.values(state.received).reduce((n, l) => n + l.length, 0);
  },

  // ----- leak check ----------------------------------------------------------------

  /** Starts and ends `n` chat sessions on channel `id`, `batch` at a time; every
   * other one is ended before it is confirmed. */
  async churn(id, n, batch = 50) {
    const { channel } = await kitty.getChannel(id);
    const noop = () => {};
    const handlers = {
      onReceivedMessage: noop, onReceivedKeystrokes: noop, onTypingStarted: noop,
      onTypingStopped: noop, onParticipantEnteredChat: noop, onParticipantLeftChat: noop,
      onParticipantPresenceChanged: noop, onMessageUpdated: noop, onChannelUpdated: noop,
      onMessageRead: noop, onMessageReactionAdded: noop, onMessageReactionRemoved: noop,
      onEventTriggered: noop,
    };
    for (let i = 0; i < n; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, n - i) }, async (_, j) => {
        const r = kitty.startChatSession({ channel, ...handlers });
        if ((i + j) % 2) r.session.end();
        else { await r; r.session.end(); }
      }));
    }
  },

  /** Entries in the SDK's own tables (core and bindings). */
  tables() {
    return kitty._tables();
  },

  async sendOne(id, body) {
    const { channel } = await kitty.getChannel(id);
    const r = await kitty.sendMessage({ channel, body });
    return r.succeeded;
  },
};

window.soakReady = true;
