// Kitty Chat: the demo app. It uses the SDK exactly as an app built on the official
// ChatKitty JavaScript SDK would: import the package, create an instance, start a
// session, open channels and chat sessions. Message text is always rendered as text.
import ChatKitty from 'chatkitty-wasm';

const API_KEY = import.meta.env.VITE_CHATKITTY_API_KEY || 'demo';
const HOST = import.meta.env.VITE_CHATKITTY_HOST || location.host;

const kitty = new ChatKitty({ apiKey: API_KEY, host: HOST, isSecure: location.protocol === 'https:' });

const app = document.getElementById('app');
const state = {
  user: null,
  channels: new Map(), // id → channel
  active: null, // { channel, session, paginator, typing:Set, el }
  online: true,
};

// ---------- tiny DOM helpers (text only: never innerHTML with data) ----------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.className = v;
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function storageKey() {
  return `kitty-chat:channels:${state.user?.name}`;
}

function remember(channel) {
  state.channels.set(channel.id, channel);
  localStorage.setItem(storageKey(), JSON.stringify([...state.channels.keys()]));
}

function titleOf(channel) {
  if (channel.type !== 'DIRECT') return `# ${channel.displayName || channel.name}`;
  const others = (channel.members || []).filter((m) => m.name !== state.user?.name);
  return others.map((m) => m.displayName || m.name).join(', ') || channel.displayName || channel.name;
}

function time(iso) {
  try {
    return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  } catch {
    return '';
  }
}

// ---------- sign in ----------
function renderSignIn(error) {
  const username = h('input', { id: 'username', name: 'username', required: true, autocomplete: 'username', maxlength: 64, placeholder: 'e.g. jane' });
  const form = h(
    'form',
    { class: 'card signin', onsubmit: (e) => { e.preventDefault(); signIn(username.value.trim()); } },
    h('h1', {}, 'Kitty Chat'),
    h('p', { class: 'muted' }, 'A real-time chat running on your own server. Pick any username to start.'),
    h('label', { for: 'username' }, 'Username'),
    username,
    error ? h('p', { class: 'error', role: 'alert' }, error) : null,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  app.replaceChildren(form);
  username.focus();
}

async function signIn(username) {
  if (!username) return;
  app.replaceChildren(h('p', { class: 'card' }, 'Connecting…'));
  const result = await kitty.startSession({ username });
  if (!result.succeeded) {
    renderSignIn(result.error?.message || 'Could not connect.');
    return;
  }
  state.user = result.session.user;
  state.channels.clear();
  renderShell();
  const saved = JSON.parse(localStorage.getItem(storageKey()) || '[]');
  for (const id of saved) {
    const r = await kitty.getChannel(id);
    if (r.succeeded) state.channels.set(r.channel.id, r.channel);
  }
  renderChannelList();
}

async function signOut() {
  state.active?.session.end();
  state.active = null;
  await kitty.endSession();
  state.user = null;
  renderSignIn();
}

// ---------- shell ----------
let els = {};

function renderShell() {
  const members = h('input', { id: 'dm-members', placeholder: 'usernames, comma separated', autocomplete: 'off' });
  const dmForm = h(
    'form',
    { class: 'new-dm', onsubmit: (e) => { e.preventDefault(); openDirect(members.value); members.value = ''; } },
    h('label', { for: 'dm-members' }, 'Message someone'),
    h('div', { class: 'row' }, members, h('button', { type: 'submit' }, 'Open')),
  );
  els.list = h('ul', { class: 'channels', 'aria-label': 'Conversations' });
  els.banner = h('div', { class: 'banner', hidden: true, role: 'status' }, 'Offline — reconnecting…');
  els.main = h('section', { class: 'conversation', 'aria-label': 'Conversation' }, h('p', { class: 'empty muted' }, 'Open a conversation to start chatting.'));
  els.error = h('p', { class: 'error', role: 'alert', hidden: true });
  app.replaceChildren(
    els.banner,
    h(
      'div',
      { class: 'shell' },
      h(
        'aside',
        { class: 'sidebar' },
        h('header', {}, h('strong', {}, state.user.displayName || state.user.name), h('button', { class: 'link', onclick: signOut }, 'Sign out')),
        dmForm,
        els.error,
        els.list,
      ),
      els.main,
    ),
  );
  renderChannelList();
  members.focus();
}

function showError(message) {
  els.error.textContent = message;
  els.error.hidden = !message;
}

function renderChannelList() {
  if (!els.list) return;
  const items = [...state.channels.values()].sort((a, b) => (b.lastReceivedMessage?.createdTime || b.createdTime || '').localeCompare(a.lastReceivedMessage?.createdTime || a.createdTime || ''));
  els.list.replaceChildren(
    ...items.map((c) =>
      h(
        'li',
        {},
        h(
          'button',
          { class: state.active?.channel.id === c.id ? 'channel active' : 'channel', onclick: () => openChannel(c), 'aria-current': state.active?.channel.id === c.id ? 'true' : undefined },
          h('span', { class: 'title' }, titleOf(c)),
          c.lastReceivedMessage?.body ? h('span', { class: 'preview muted' }, c.lastReceivedMessage.body) : null,
        ),
      ),
    ),
  );
}

async function openDirect(text) {
  const usernames = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (!usernames.length) return;
  const result = await kitty.createChannel({ type: 'DIRECT', members: usernames.map((username) => ({ username })) });
  if (!result.succeeded) {
    showError(result.error?.message || 'Could not open the conversation.');
    return;
  }
  showError('');
  remember(result.channel);
  await openChannel(result.channel);
}

// ---------- conversation ----------
async function openChannel(channel) {
  state.active?.session.end();
  const messages = h('ol', { class: 'messages', 'aria-label': 'Messages' });
  const typing = h('p', { class: 'typing muted', 'aria-live': 'polite' });
  const input = h('textarea', { id: 'composer', rows: 1, placeholder: 'Write a message…', 'aria-label': 'Message' });
  const presence = h('span', { class: 'presence' });
  const composer = h(
    'form',
    { class: 'composer', onsubmit: (e) => { e.preventDefault(); send(); } },
    input,
    h('button', { type: 'submit' }, 'Send'),
  );
  els.main.replaceChildren(h('header', {}, h('h2', {}, titleOf(channel)), presence), messages, typing, composer);

  const active = { channel, messages, typing, presence, input, typingUsers: new Map(), paginator: null, loading: false, seen: new Set() };
  state.active = active;
  renderChannelList();
  renderPresence();

  function send() {
    const body = input.value.trim();
    if (!body) return;
    input.value = '';
    kitty.sendKeystrokes({ channel, keys: '' });
    kitty.sendMessage({ channel, body }).then((r) => {
      if (!r.succeeded) showError(r.error?.message || 'Message not sent.');
    });
  }
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      send();
    }
  });
  input.addEventListener('input', () => kitty.sendKeystrokes({ channel, keys: input.value }));
  messages.addEventListener('scroll', () => {
    if (messages.scrollTop < 40) loadOlder(active);
  });

  const result = kitty.startChatSession({
    channel,
    onReceivedMessage: (message) => {
      appendMessage(active, message, true);
      channel.lastReceivedMessage = message;
      remember(channel);
      renderChannelList();
    },
    onTypingStarted: (user) => { active.typingUsers.set(user.name, user); renderTyping(active); },
    onTypingStopped: (user) => { active.typingUsers.delete(user.name); renderTyping(active); },
    onParticipantPresenceChanged: (user) => updateMember(channel, user),
    onParticipantEnteredChat: (user) => updateMember(channel, user),
    onParticipantLeftChat: () => {},
  });
  active.session = result.session;

  const page = await kitty.getMessages({ channel });
  if (page.succeeded && state.active === active) {
    active.paginator = page.paginator;
    for (const m of [...page.paginator.items].reverse()) appendMessage(active, m, false);
    messages.scrollTop = messages.scrollHeight;
  }
  input.focus();
}

async function loadOlder(active) {
  if (active.loading || !active.paginator?.hasNextPage) return;
  active.loading = true;
  try {
    const next = await active.paginator.nextPage();
    active.paginator = next;
    const before = active.messages.scrollHeight;
    for (const m of next.items) prependMessage(active, m);
    active.messages.scrollTop = active.messages.scrollHeight - before;
  } finally {
    active.loading = false;
  }
}

function messageEl(m) {
  const mine = m.user?.name === state.user?.name;
  return h(
    'li',
    { class: mine ? 'message mine' : 'message', 'data-id': m.id },
    h('div', { class: 'meta' }, h('strong', {}, m.user?.displayName || m.user?.name || 'System'), ' ', h('time', { datetime: m.createdTime }, time(m.createdTime))),
    h('div', { class: 'body' }, m.body ?? (m.file ? m.file.name : '')),
  );
}

function appendMessage(active, m, scroll) {
  if (active.seen.has(m.id)) return;
  active.seen.add(m.id);
  const atBottom = active.messages.scrollHeight - active.messages.scrollTop - active.messages.clientHeight < 60;
  active.messages.append(messageEl(m));
  if (scroll && atBottom) active.messages.scrollTop = active.messages.scrollHeight;
}

function prependMessage(active, m) {
  if (active.seen.has(m.id)) return;
  active.seen.add(m.id);
  active.messages.prepend(messageEl(m));
}

function renderTyping(active) {
  const names = [...active.typingUsers.values()].map((u) => u.displayName || u.name);
  active.typing.textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
}

function updateMember(channel, user) {
  const members = channel.members || [];
  const i = members.findIndex((m) => m.id === user.id);
  if (i >= 0) members[i] = user;
  if (state.active?.channel === channel) renderPresence();
}

function renderPresence() {
  const active = state.active;
  if (!active) return;
  const others = (active.channel.members || []).filter((m) => m.name !== state.user?.name);
  active.presence.replaceChildren(
    ...others.map((m) =>
      h('span', { class: m.presence?.online ? 'dot online' : 'dot', title: `${m.displayName || m.name}: ${m.presence?.online ? 'online' : 'offline'}` }, m.presence?.online ? 'online' : 'offline'),
    ),
  );
}

// ---------- connection state ----------
kitty.onCurrentUserOffline(() => {
  if (state.user && els.banner) els.banner.hidden = false;
});
kitty.onCurrentUserOnline(() => {
  if (els.banner) els.banner.hidden = true;
});

renderSignIn();
