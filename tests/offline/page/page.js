// The page the offline tests drive (run.mjs): the package as an app loads it, and a
// WebSocket the test can take offline. `Net` is the browser's WebSocket with three
// faults the test switches on: offline (new sockets go to a path the server refuses,
// open ones are closed), SENDs dropped (the page "dies" before its send leaves), and
// deaf after a SEND (the send reaches the server, its answer never reaches the SDK).
import ChatKitty from './pkg/index.js';

const sockets = new Set();
const net = { offline: false, dropSends: false, deafAfterSend: false, deaf: false };

function Net(url, protocols) {
  const ws = new WebSocket(net.offline ? url.replace('/rtm/', '/nowhere/') : url, protocols);
  sockets.add(ws);
  ws.addEventListener('close', () => sockets.delete(ws));
  // Registered before the SDK's onmessage, so it can stop it.
  ws.addEventListener('message', (e) => net.deaf && e.stopImmediatePropagation());
  const send = ws.send.bind(ws);
  ws.send = (data) => {
    const isSend = typeof data === 'string' && data.startsWith('SEND\n');
    if (isSend && net.dropSends) return;
    send(data);
    if (isSend && net.deafAfterSend) net.deaf = true;
  };
  return ws;
}
Object.assign(Net, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });

const make = (offline = true) => {
  if (!window.kitty) {
    window.kitty = new ChatKitty({
      apiKey: params.get('key'), host: location.host, isSecure: false, offline,
      WebSocket: Net, minReconnectDelay: 100, maxReconnectDelay: 500,
    });
    window.kitty.onCurrentUserOffline(() => (net.down = true));
    window.kitty.onCurrentUserOnline(() => (net.down = false));
  }
  return window.kitty;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const params = new URLSearchParams(location.search);
// `noshared`: a browser without SharedWorker (Chrome on Android): shareConnection elects a
// tab through a Web Lock instead (docs/api.md §18.1).
if (params.get('noshared')) delete globalThis.SharedWorker;

window.t = {
  net,
  outboxLog: [],
  /** A client of `username`; `offline`: the durable outbox on. */
  async start(username, offline = true) {
    const kitty = make(offline);
    if (offline && !window.outboxWatched) {
      window.outboxWatched = true;
      kitty.onOutboxChanged((list) => window.t.outboxLog.push(list.map((e) => `${e.request.body}:${e.state}`)));
    }
    const r = await kitty.startSession({ username });
    if (!r.succeeded) throw new Error(`startSession: ${r.error?.message}`);
    return r.session.user.name;
  },
  /** A client sharing the app's one connection (shareConnection), as `username`. */
  async startShared(username) {
    if (!window.kitty) {
      window.kitty = new ChatKitty({ apiKey: params.get('key'), host: location.host, isSecure: false, shareConnection: true });
      window.t.onlineEvents = 0;
      window.kitty.onCurrentUserOnline(() => window.t.onlineEvents++);
    }
    const r = await window.kitty.startSession({ username });
    if (!r.succeeded) throw new Error(`startSession: ${r.error?.message}`);
    for (let i = 0; i < 50 && !window.t.onlineEvents; i++) await sleep(20);
    return { user: r.session.user.name, current: window.kitty.currentUser?.name, worker: !!globalThis.SharedWorker, online: window.t.onlineEvents };
  },
  /** Uploads a 100 KB file with a progress listener; what the listener was told. */
  async upload(channel) {
    const calls = [];
    const file = new File([new Uint8Array(100000).fill(97)], 'notes.txt', { type: 'text/plain' });
    const progressListener = {
      onStarted: () => calls.push('started'),
      onProgress: (f) => calls.push(f),
      onCompleted: (r) => calls.push(`completed:${r}`),
    };
    const r = await window.kitty.sendMessage({ channel, file, progressListener });
    for (let i = 0; i < 50 && !calls.some((c) => String(c).startsWith('completed')); i++) await sleep(20);
    return { ok: r.succeeded, type: r.message?.type, calls };
  },
  /** A thread of `channel` this tab follows through a chat session (setThread). */
  async followThread(channel, name) {
    const r = await window.kitty.createThread({ channel, name });
    if (!r.succeeded) throw new Error(`createThread: ${r.error?.message}`);
    window.t.threadLive = [];
    const cs = await window.kitty.startChatSession({ channel, onThreadReceivedMessage: (th, m) => window.t.threadLive.push(m.body) });
    cs.session.setThread(r.thread);
    await sleep(300);
    return r.thread;
  },
  async end() {
    await window.kitty.endSession();
  },
  async channel(name) {
    const r = await window.kitty.createChannel({ type: 'PUBLIC', name });
    if (!r.succeeded) throw new Error(`createChannel: ${r.error?.message}`);
    return r.channel;
  },
  async join(name) {
    const r = await window.kitty.getChannels({ filter: { joined: false } });
    const c = r.paginator.items.find((x) => x.name === name);
    if (!c) throw new Error(`no channel ${name}`);
    const j = await window.kitty.joinChannel({ channel: c });
    return j.channel ?? c;
  },
  /** Bodies of the channel's messages (newest first), as the server has them. */
  async bodies(channel) {
    const r = await window.kitty.getMessages({ channel });
    if (!r.succeeded) throw new Error(`getMessages: ${r.error?.message}`);
    return r.paginator.items.map((m) => m.body);
  },
  /** Takes the page offline; resolves once the SDK has noticed. */
  async offline() {
    net.offline = true;
    for (const ws of sockets) ws.close();
    for (let i = 0; i < 200 && !net.down; i++) await sleep(20);
    if (!net.down) throw new Error('the SDK did not notice');
  },
  online() {
    net.offline = false;
  },
  /** Sends `body`; resolves once onOutboxChanged has reported it (it is committed). */
  async send(channel, body) {
    const seen = window.t.outboxLog.length;
    window.pending = window.kitty.sendMessage({ channel, body });
    for (let i = 0; i < 200; i++) {
      if (window.t.outboxLog.slice(seen).some((l) => l.some((e) => e.startsWith(`${body}:`)))) return;
      await sleep(20);
    }
    throw new Error('the outbox never reported the entry');
  },
  async result() {
    const r = await window.pending;
    return { succeeded: r.succeeded, error: r.error?.error, body: r.message?.body, id: r.message?.id };
  },
  /** Waits until the outbox is empty (or `ms` passed); returns what it holds. */
  async drained(ms = 15000) {
    for (let i = 0; i < ms / 50; i++) {
      const list = await window.kitty.getOutbox();
      if (!list.length) return [];
      await sleep(50);
    }
    return (await window.kitty.getOutbox()).map((e) => `${e.request.body}:${e.state}`);
  },
  /** Opens a channel as an app does: the list, the newest messages, a chat session
   * whose live messages go to `t.live`. */
  async openRoom(channel) {
    window.t.live = [];
    await window.kitty.getChannels();
    await window.kitty.getMessages({ channel });
    const cs = window.kitty.startChatSession({ channel, onReceivedMessage: (m) => window.t.live.push(m.body) });
    const r = await cs;
    if (!r.succeeded) throw new Error(`startChatSession: ${r.error?.message}`);
    // The chat session's gap cursor is read once it is confirmed (docs/api.md §14.3).
    await sleep(300);
    return true;
  },
  async waitLive(body, ms = 10000) {
    for (let i = 0; i < ms / 50; i++) {
      if (window.t.live.includes(body)) return window.t.live.filter((b) => b === body).length;
      await sleep(50);
    }
    return 0;
  },
  async readCache(username, channelId) {
    const c = await make().readCache({ username });
    return {
      user: c.user?.name ?? null,
      channels: c.channels.map((x) => x.name),
      last: c.channels.map((x) => x.lastReceivedMessage?.body ?? null),
      bodies: c.messages[channelId] ? c.messages[channelId].map((m) => m.body) : null,
      cachedTime: c.cachedTime,
    };
  },
  async reads(channel) {
    const m = await window.kitty.getMessages({ channel });
    const c = await window.kitty.getChannels();
    return { cached: !!m.cached, bodies: m.paginator?.items.map((x) => x.body), channelsCached: !!c.cached, channels: c.paginator?.items.map((x) => x.name) };
  },
  async clearCache() {
    await window.kitty.clearCache();
  },
  /** Reload to first render, from navigation start: the cache (readCache), and the
   * network (startSession, the channel list and the channel's messages). */
  async firstRender(username, channel) {
    const c = await make().readCache({ username });
    const fromCache = performance.now();
    const ok = c.channels.length > 0 && (c.messages[channel.id]?.length ?? 0) > 0;
    await window.t.start(username);
    await window.kitty.getChannels();
    const m = await window.kitty.getMessages({ channel });
    const fromNetwork = performance.now();
    return { ok, fresh: !m.cached, fromCache, fromNetwork };
  },
  async outbox() {
    return (await window.kitty.getOutbox()).map((e) => `${e.request.body}:${e.state}`);
  },
};
window.ready = true;
