// The page of the offline benchmark (bench/browser/offline.mjs), served with pkg/ beside
// it. What a load does is in the URL's hash, which a reload keeps:
//
//   #mode=cache&user=U&channel=ID    the app with the cache (docs/api.md §17.4):
//       `readCache` before any session, render; then the network as below, render again
//   #mode=network&user=U&channel=ID  the app without it (no `offline`): startSession,
//       getChannels, getMessages of the channel, render
//   #mode=tab&user=U&share=1         a tab with a session (shareConnection on or off, §18)
//   (no mode)                        nothing: the driver calls window.bench (set-up)
//
// A render writes the channel list and the channel's messages into the DOM; its time is
// performance.now() after that write, i.e. from the navigation's start, page load (HTML,
// scripts) included. `window.result` holds the figures once the load is done.
import ChatKitty from './pkg/index.js';

const scriptStart = performance.now();
const hash = new URLSearchParams(location.hash.slice(1));
const config = { apiKey: new URLSearchParams(location.search).get('key'), host: location.host, isSecure: false };

function render(channels, messages) {
  const list = document.getElementById('channels');
  const feed = document.getElementById('messages');
  list.replaceChildren(...channels.map((c) => {
    const li = document.createElement('li');
    li.textContent = `${c.name}: ${c.lastReceivedMessage?.body ?? ''}`;
    return li;
  }));
  feed.replaceChildren(...messages.map((m) => {
    const li = document.createElement('li');
    li.textContent = `${m.user?.displayName ?? ''}: ${m.body}`;
    return li;
  }));
  return { at: performance.now(), channels: channels.length, messages: messages.length };
}

/** startSession, the channel list, then the channel's newest messages: the reads an app
 * makes to show a channel, one after the other (the messages need the channel). */
async function fromNetwork(kitty, username, channelId) {
  const s = await kitty.startSession({ username });
  if (!s.succeeded) throw new Error(`startSession: ${s.error?.message}`);
  const c = await kitty.getChannels();
  if (!c.succeeded) throw new Error(`getChannels: ${c.error?.message}`);
  const channel = c.paginator.items.find((x) => String(x.id) === channelId);
  if (!channel) throw new Error(`channel ${channelId} is not in the list`);
  const m = await kitty.getMessages({ channel });
  if (!m.succeeded) throw new Error(`getMessages: ${m.error?.message}`);
  return render(c.paginator.items, m.paginator.items);
}

async function load(mode, username, channelId) {
  if (mode === 'cache') {
    const kitty = new ChatKitty({ ...config, offline: true });
    const c = await kitty.readCache({ username });
    const first = render(c.channels, c.messages[channelId] ?? []);
    // The same page then refreshes from the server, which writes the cache for the next
    // load (its writes are not waited for by the calls: the driver pauses before it).
    const fresh = await fromNetwork(kitty, username, channelId);
    return { scriptStart, render: first.at, channels: first.channels, messages: first.messages, fresh: fresh.at };
  }
  if (mode === 'network') {
    const r = await fromNetwork(new ChatKitty(config), username, channelId);
    return { scriptStart, render: r.at, channels: r.channels, messages: r.messages };
  }
  if (mode === 'tab') {
    const kitty = new ChatKitty({ ...config, shareConnection: hash.get('share') === '1' });
    const s = await kitty.startSession({ username });
    if (!s.succeeded) throw new Error(`startSession: ${s.error?.message}`);
    return { user: kitty.currentUser?.name };
  }
}

window.bench = {
  /** `username` with `channels` PRIVATE channels, a message in each and `messages` in the
   * first; returns the first channel's id. PRIVATE: the list is the user's own in each
   * browser (getChannels lists the public channels one can join too, docs/api.md §6). */
  async setup(username, prefix, channels, messages) {
    const kitty = new ChatKitty(config);
    const s = await kitty.startSession({ username });
    if (!s.succeeded) throw new Error(`startSession: ${s.error?.message}`);
    let first;
    for (let i = channels - 1; i >= 0; i--) {
      const r = await kitty.createChannel({ type: 'PRIVATE', name: `${prefix}-${i}` });
      if (!r.succeeded) throw new Error(`createChannel: ${r.error?.message}`);
      const n = i === 0 ? messages : 1;
      for (let k = 0; k < n; k++) {
        const m = await kitty.sendMessage({ channel: r.channel, body: `message ${k + 1} of ${n} in ${prefix}-${i}: some text of a usual length` });
        if (!m.succeeded) throw new Error(`sendMessage: ${m.error?.message}`);
      }
      first = r.channel.id;
    }
    await kitty.endSession();
    return first;
  },
};

const mode = hash.get('mode');
if (mode) {
  load(mode, hash.get('user'), hash.get('channel')).then(
    (r) => (window.result = r),
    (e) => (window.result = { error: String(e?.message ?? e) }),
  );
}
window.ready = true;
