// Kitty Chat: the demo app. It uses the SDK exactly as an app built on the official
// ChatKitty JavaScript SDK would: import the package, create an instance, start a
// session, list channels, open chat sessions. Message text is always rendered as text.
import ChatKitty from 'chatkitty-wasm';
import { h, avatar, nameOf } from './dom.js';
import { ChannelList } from './channels.js';
import { Conversation } from './conversation.js';
import { searchBox } from './search.js';
import './style.css';

const API_KEY = import.meta.env.VITE_CHATKITTY_API_KEY || 'demo';
// The server that serves this page is the chat server; VITE_CHATKITTY_HOST points a
// `vite` dev server at another one (e.g. localhost:8080).
const HOST = import.meta.env.VITE_CHATKITTY_HOST || location.host;

// offline: messages sent without a connection are kept on this device (IndexedDB) and sent
// when it returns, even after a reload; the channel list and recent messages are cached
// (docs/api.md §17). shareConnection: the tabs of one person share one connection
// (docs/api.md §18); `?share=0` gives a tab its own (the end-to-end test cuts one
// person's network that way).
const kitty = new ChatKitty({
  apiKey: API_KEY,
  host: HOST,
  isSecure: location.protocol === 'https:',
  offline: true,
  shareConnection: new URLSearchParams(location.search).get('share') !== '0',
});
// Per tab, so two tabs of one browser can be two people (a reload stays signed in).
const SAVED = 'kitty-chat:user';

const root = document.getElementById('app');

/** What every part of the app shares. */
const app = {
  kitty,
  me: null,
  channels: null,
  conversation: null,
  offline: false,
  signingOut: false,
  /** Opens a channel (by object or id) through the URL, so Back works. */
  open(channel) {
    const id = typeof channel === 'object' ? channel.id : channel;
    if (typeof channel === 'object') app.channels.upsert(channel);
    const hash = `#/c/${id}`;
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  close() {
    if (location.hash) location.hash = '';
    else route();
  },
  toast,
};
let els = {};

// ---------- sign in ----------

function renderSignIn({ error, username = '', displayName = '' } = {}) {
  const userInput = h('input', {
    id: 'username', name: 'username', required: true, autocomplete: 'username', maxlength: 64,
    pattern: '[A-Za-z0-9_.\\-@]+', placeholder: 'e.g. jane', value: username, autocapitalize: 'none', spellcheck: 'false',
  });
  const nameInput = h('input', { id: 'display-name', name: 'displayName', autocomplete: 'nickname', maxlength: 64, placeholder: 'e.g. Jane Doe', value: displayName });
  const submit = h('button', { type: 'submit', class: 'primary wide' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card signin',
      'aria-labelledby': 'signin-title',
      onsubmit: (e) => {
        e.preventDefault();
        submit.disabled = true;
        submit.textContent = 'Signing in…';
        signIn(userInput.value.trim(), nameInput.value.trim());
      },
    },
    h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '🐱'), h('h1', { id: 'signin-title' }, 'Kitty Chat')),
    h('p', { class: 'muted' }, 'Real-time chat on your own server. Pick any username: new names are created on the spot.'),
    h('label', { for: 'username' }, 'Username'),
    userInput,
    h('p', { class: 'hint muted', id: 'username-hint' }, 'Letters, digits and . _ - @'),
    h('label', { for: 'display-name' }, 'Display name ', h('span', { class: 'muted' }, '(optional)')),
    nameInput,
    error ? h('p', { class: 'error', role: 'alert' }, error) : null,
    submit,
    h('p', { class: 'hint muted' }, 'Tip: open this page in a second window, sign in as someone else, and chat with yourself.'),
  );
  userInput.setAttribute('aria-describedby', 'username-hint');
  root.replaceChildren(h('main', { class: 'signin-page' }, form));
  (username ? nameInput : userInput).focus();
}

async function signIn(username, displayName) {
  if (!username) return renderSignIn({ error: 'Enter a username.' });
  let result;
  try {
    result = await kitty.startSession({ username });
  } catch (e) {
    result = { succeeded: false, error: e };
  }
  if (!result.succeeded) {
    renderSignIn({ error: result.error?.message || 'Could not connect to the server.', username, displayName });
    return;
  }
  app.me = result.session.user;
  if (displayName && displayName !== app.me.displayName) await setDisplayName(displayName);
  sessionStorage.setItem(SAVED, JSON.stringify({ username, displayName: app.me.displayName }));
  app.offline = false;
  renderShell();
  await app.channels.load();
  await app.channels.ensureGeneral();
  route();
}

async function setDisplayName(displayName) {
  const r = await kitty.updateCurrentUser((user) => {
    user.displayName = displayName;
    return user;
  });
  if (r.succeeded) app.me = r.user;
  else toast(r.error?.message || 'Could not change the display name.');
  return r.succeeded;
}

async function signOut() {
  app.signingOut = true;
  app.conversation?.end();
  app.conversation = null;
  sessionStorage.removeItem(SAVED);
  try {
    await kitty.endSession();
  } finally {
    app.signingOut = false;
    app.me = null;
    app.channels?.dispose();
    app.channels = null;
    els = {};
    document.title = 'Kitty Chat';
    if (location.hash) history.replaceState(null, '', location.pathname);
    renderSignIn();
  }
}

// ---------- the signed-in shell ----------

function renderShell() {
  app.channels = new ChannelList(app);
  els.banner = h('div', { class: 'banner', role: 'status', hidden: true }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'You’re offline. Reconnecting…');
  els.toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
  els.me = h('button', { class: 'me-button', type: 'button', title: 'Change your display name', onclick: editProfile });
  renderMe();
  els.sidebar = h(
    'aside',
    { class: 'sidebar', 'aria-label': 'Conversations' },
    h('header', { class: 'sidebar-head' }, els.me, h('button', { type: 'button', class: 'ghost small', onclick: signOut }, 'Sign out')),
    app.channels.toolbar,
    searchBox(app),
    app.channels.el,
  );
  els.main = h('main', { class: 'main', id: 'main' });
  els.shell = h('div', { class: 'shell' }, els.sidebar, els.main);
  els.outbox = h('div', { class: 'banner outbox', role: 'status', hidden: true });
  root.replaceChildren(h('a', { class: 'skip', href: '#main' }, 'Skip to conversation'), els.banner, els.outbox, els.shell, els.toasts);
  watchOutbox();
}

function renderMe() {
  if (!els.me || !app.me) return;
  els.me.replaceChildren(
    avatar(app.me),
    h('span', { class: 'me-names' }, h('strong', { class: 'me-name' }, nameOf(app.me)), h('span', { class: 'muted small' }, `@${app.me.name}`)),
  );
}

function editProfile() {
  const input = h('input', { id: 'profile-name', value: app.me.displayName || '', maxlength: 64, required: true });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': 'profile-title' },
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (e) => {
          e.preventDefault();
          if (await setDisplayName(input.value.trim())) {
            renderMe();
            dialog.close();
          }
        },
      },
      h('h2', { id: 'profile-title' }, 'Your profile'),
      h('label', { for: 'profile-name' }, 'Display name'),
      input,
      error,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'ghost', onclick: () => dialog.close() }, 'Cancel'), h('button', { type: 'submit', class: 'primary' }, 'Save')),
    ),
  );
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  input.select();
}

function toast(message, kind = '') {
  if (!els.toasts) return;
  const t = h('div', { class: `toast ${kind}` }, message);
  els.toasts.append(t);
  setTimeout(() => t.remove(), 4000);
}

// ---------- routing: #/c/<channel id> ----------

let routing = 0;
async function route() {
  if (!app.me || !els.main) return;
  const token = ++routing;
  const m = location.hash.match(/^#\/c\/(\d+)$/);
  const id = m ? Number(m[1]) : null;
  if (app.conversation && app.conversation.channel.id === id) return;
  app.conversation?.end();
  app.conversation = null;
  els.shell.classList.toggle('has-conversation', id !== null);
  if (id === null) {
    app.channels.setActive(null);
    els.main.replaceChildren(welcome());
    return;
  }
  let channel = app.channels.get(id);
  if (!channel) {
    const r = await kitty.getChannel(id);
    if (!r.succeeded) {
      toast('That conversation is not available.', 'bad');
      app.close();
      return;
    }
    channel = r.channel;
    if (token !== routing) return; // the URL changed meanwhile
  }
  const conversation = new Conversation(app, channel);
  app.conversation = conversation;
  app.channels.setActive(id);
  els.main.replaceChildren(conversation.el);
  conversation.start();
}

function welcome() {
  return h(
    'section',
    { class: 'welcome', 'aria-labelledby': 'welcome-title' },
    h('span', { class: 'logo big', 'aria-hidden': 'true' }, '🐱'),
    h('h2', { id: 'welcome-title' }, `Welcome, ${nameOf(app.me)}!`),
    h('p', { class: 'muted' }, 'Pick a conversation on the left, or start a new one.'),
    h(
      'div',
      { class: 'welcome-actions' },
      h('button', { type: 'button', class: 'primary', onclick: () => app.channels.newDirect() }, 'Message someone'),
      h('button', { type: 'button', class: 'ghost', onclick: () => app.channels.browse() }, 'Browse channels'),
    ),
    h('p', { class: 'hint muted' }, 'Nobody else here yet? Open this page in another window and sign in with a second username.'),
  );
}

window.addEventListener('hashchange', route);

// ---------- the outbox: messages kept on this device until the server has them ----------

// This page's own sends show in their conversation ("Sending…", or Retry/Discard when
// refused); the strip tells of those an earlier page (closed, reloaded, crashed) left.
const PAGE_START = Date.now();
let outboxOff;
function watchOutbox() {
  outboxOff?.();
  outboxOff = kitty.onOutboxChanged((entries) => {
    if (!els.outbox) return;
    const earlier = [];
    for (const e of entries) {
      if (Date.parse(e.createdTime) >= PAGE_START) {
        // Refused: the conversation offers Retry (a new send), so this one goes.
        if (e.state === 'failed') kitty.discardOutboxEntry(e.key);
      } else earlier.push(e);
    }
    const failed = earlier.filter((e) => e.state === 'failed');
    const waiting = earlier.length - failed.length;
    const parts = [];
    if (waiting) parts.push(`Sending ${waiting} message${waiting > 1 ? 's' : ''} saved on this device…`);
    if (failed.length) {
      parts.push(
        ` ${failed.length} not sent (${failed[0].error?.message || 'refused'}). `,
        h('button', { type: 'button', class: 'link small', onclick: () => failed.forEach((e) => kitty.discardOutboxEntry(e.key)) }, 'Discard'),
      );
    }
    els.outbox.replaceChildren(...parts);
    els.outbox.hidden = !parts.length;
  });
}

// ---------- connection state ----------

kitty.onCurrentUserOffline(() => {
  if (!app.me || app.signingOut) return;
  app.offline = true;
  if (els.banner) els.banner.hidden = false;
  document.body.classList.add('offline');
});

kitty.onCurrentUserOnline(() => {
  // The first connection comes before startSession resolves (no app.me yet); any
  // later one is a reconnect, whether or not an offline event came before it.
  if (!app.me) return;
  app.offline = false;
  if (els.banner) els.banner.hidden = true;
  document.body.classList.remove('offline');
  // Nothing is replayed after a reconnect: fetch what was missed.
  Promise.all([app.channels?.load(), app.conversation?.catchUp()]).then(
    () => toast('Back online', 'ok'),
    () => {},
  );
});

kitty.onCurrentUserChanged((user) => {
  if (user && app.me && user.id === app.me.id) {
    app.me = user;
    renderMe();
  }
});

// ---------- start ----------

const saved = (() => {
  try {
    return JSON.parse(sessionStorage.getItem(SAVED) || 'null');
  } catch {
    return null;
  }
})();
if (saved?.username) {
  root.replaceChildren(h('main', { class: 'signin-page' }, h('p', { class: 'card', role: 'status' }, `Signing in as ${saved.username}…`)));
  signIn(saved.username, '');
} else {
  renderSignIn();
}
