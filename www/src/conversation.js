// The open conversation: its chat session, the message history (older pages load as
// you scroll up), live messages, typing, presence, read receipts, reactions, replies in
// a thread panel, editing and deleting, uploads with progress, reporting others'
// messages, and, for the channel's moderators, its moderation (moderation.js).
import { h, avatar, nameOf, clock, dayKey, dayLabel, bytes, bodyNodes, safeUrl, icon } from './dom.js';
import { createComposer } from './composer.js';
import { titleOf, otherMembers } from './channels.js';
import { moderates, moderateChannel, reportMessage } from './moderation.js';

const REACTIONS = [
  ['+1', '👍'], ['heart', '❤️'], ['joy', '😂'], ['tada', '🎉'], ['open_mouth', '😮'], ['cry', '😢'], ['eyes', '👀'], ['pray', '🙏'],
];
const GROUP_MS = 5 * 60 * 1000;

export class Conversation {
  constructor(app, channel) {
    this.app = app;
    this.kitty = app.kitty;
    this.channel = channel;
    this.members = new Map((channel.members || []).map((u) => [u.id, u]));
    this.readUpTo = new Map(); // user id → newest message id they read
    this.typing = new Map(); // user name → {user, timer}
    this.thread = null;
    this.ended = false;
    this.paginator = null;
    this.loadingOlder = false;
    this.readTimer = 0;

    this.title = h('h2', { id: 'conversation-title', class: 'conversation-title' });
    this.subtitle = h('div', { class: 'conversation-subtitle muted small' });
    this.memberList = h('ul', { class: 'members', 'aria-label': 'Members' });
    // Shown to the channel's moderators (docs/api.md §16.1).
    this.moderate = h('button', { type: 'button', class: 'ghost small moderate', hidden: true, 'aria-label': 'Moderate this channel', title: 'Mute or ban members, slow mode', onclick: () => moderateChannel(this) }, icon('shield'), h('span', { class: 'moderate-label', 'aria-hidden': 'true' }, 'Moderate'));
    this.typingLine = h('p', { class: 'typing muted small', 'aria-live': 'polite' });
    this.newBelow = h('button', { type: 'button', class: 'new-below', hidden: true, onclick: () => this.list.scrollToBottom() }, 'New messages ↓');
    this.list = new MessageList(this, { kind: 'main', label: `Messages in ${titleOf(channel, app.me)}` });
    this.composer = createComposer({
      label: 'Message',
      placeholder: `Message ${channel.type === 'DIRECT' ? titleOf(channel, app.me) : `#${titleOf(channel, app.me)}`}`,
      people: () => this.people(),
      onSend: (body) => this.sendText(body, this.list),
      onFiles: (files) => this.sendFiles(files, this.list),
      onDraft: (keys) => this.draft(keys),
    });
    this.body = h(
      'section',
      { class: 'conversation', 'aria-labelledby': 'conversation-title' },
      h(
        'header',
        { class: 'conversation-head' },
        h('a', { class: 'back', href: '#', 'aria-label': 'Back to conversations', onclick: (e) => { e.preventDefault(); app.close(); } }, icon('back')),
        h('div', { class: 'conversation-names' }, this.title, this.subtitle),
        this.memberList,
        this.moderate,
      ),
      h('div', { class: 'timeline-wrap' }, this.list.scroller, this.newBelow),
      this.typingLine,
      this.composer.el,
    );
    this.el = h('div', { class: 'conversation-layout' }, this.body);
    this.renderHead();

    // Drop files anywhere on the conversation.
    this.body.addEventListener('dragover', (e) => {
      if (e.dataTransfer?.types?.includes('Files')) {
        e.preventDefault();
        this.body.classList.add('dropping');
      }
    });
    this.body.addEventListener('dragleave', (e) => {
      if (e.target === this.body) this.body.classList.remove('dropping');
    });
    this.body.addEventListener('drop', (e) => {
      this.body.classList.remove('dropping');
      const files = [...(e.dataTransfer?.files || [])];
      if (files.length) {
        e.preventDefault();
        this.sendFiles(files, this.list);
      }
    });
    this.onVisible = () => {
      if (document.visibilityState === 'visible') this.markRead();
    };
    this.onKey = (e) => {
      if (e.key === 'Escape' && this.thread && !document.querySelector('dialog[open]')) this.closeThread();
    };
    document.addEventListener('visibilitychange', this.onVisible);
    document.addEventListener('keydown', this.onKey);
  }

  get me() {
    return this.app.me;
  }

  async start() {
    const started = this.kitty.startChatSession({
      channel: this.channel,
      onReceivedMessage: (message, parent) => this.received(message, parent),
      onMessageUpdated: (message) => this.updated(message),
      onTypingStarted: (user) => this.typingChanged(user, true),
      onTypingStopped: (user) => this.typingChanged(user, false),
      onParticipantPresenceChanged: (user) => this.memberPresence(user),
      onParticipantEnteredChat: (user) => this.addMember(user, true),
      onMessageRead: (message, receipt) => this.read(message, receipt),
      onMessageReactionAdded: (message) => this.updated(message),
      onMessageReactionRemoved: (message) => this.updated(message),
      onChannelUpdated: (channel) => this.channelUpdated(channel),
    });
    this.chat = started.session;
    this.composer.focus();
    // Fetch the history once the chat session's subscriptions are confirmed, so no
    // message falls between the page and the live stream (both are merged by id).
    await started;
    if (this.ended) return;
    const r = await this.kitty.getMessages({ channel: this.channel, filter: { mainThread: true } });
    if (this.ended) return;
    if (!r.succeeded) {
      this.list.error = r.error?.message || 'Could not load messages.';
      this.list.render();
      return;
    }
    this.paginator = r.paginator;
    this.list.merge(r.paginator.items);
    this.list.loaded = true;
    this.list.render({ stick: true });
    this.list.maybeLoadOlder();
    this.markRead();
    await this.loadMembers();
    await this.loadReceipts();
  }

  end() {
    this.ended = true;
    this.chat?.end();
    this.closeThread();
    clearTimeout(this.readTimer);
    for (const t of this.typing.values()) clearTimeout(t.timer);
    document.removeEventListener('visibilitychange', this.onVisible);
    document.removeEventListener('keydown', this.onKey);
    this.list.dispose();
  }

  /** After a reconnect: fetch what was missed, merged with what is on screen. */
  async catchUp() {
    if (this.ended) return;
    const known = new Set(this.list.messages.keys());
    let r = await this.kitty.getMessages({ channel: this.channel, filter: { mainThread: true } });
    if (!r.succeeded || this.ended) return;
    let page = r.paginator;
    const items = [...page.items];
    // More missed than one page: walk back until the pages meet what we have.
    for (let i = 0; i < 10 && known.size && page.hasNextPage && !page.items.some((m) => known.has(m.id)); i++) {
      page = await page.nextPage();
      items.push(...page.items);
    }
    if (!this.paginator || !known.size) this.paginator = r.paginator;
    const fresh = items.filter((m) => !known.has(m.id));
    this.list.merge(items);
    this.list.render({ newFromOthers: fresh.some((m) => m.user?.id !== this.me.id) });
    if (this.thread) await this.thread.load();
    this.markRead();
    await this.loadMembers();
    await this.loadReceipts();
  }

  // ---------- events ----------

  received(message, parent) {
    if (this.ended) return;
    const mine = message.user?.id === this.me.id;
    if (message.user) this.addMember(message.user);
    if (message.user && !mine) {
      this.bumpRead(message.user.id, message.id);
      this.typingChanged(message.user, false);
    }
    if (parent || message._relays?.parent) {
      if (parent && this.list.messages.has(parent.id)) this.list.upsert(parent);
      if (this.thread && parent && this.thread.parent.id === parent.id) {
        this.thread.parent = { ...this.thread.parent, ...parent };
        this.thread.list.upsert(message, { fromLive: true });
        this.thread.list.render({ newFromOthers: !mine });
        this.thread.renderParent();
      }
      this.list.render();
      if (!mine) this.markRead();
      return;
    }
    this.list.upsert(message, { fromLive: true });
    this.list.render({ newFromOthers: !mine });
    this.app.channels.message(this.channel.id, message, { unread: !mine && document.visibilityState !== 'visible' });
    if (!mine) this.markRead();
  }

  updated(message) {
    if (this.ended) return;
    if (this.list.messages.has(message.id)) {
      this.list.upsert(message);
      this.list.render();
    }
    if (this.thread) {
      if (this.thread.parent.id === message.id) {
        this.thread.parent = merged(this.thread.parent, message);
        this.thread.renderParent();
      }
      if (this.thread.list.messages.has(message.id)) {
        this.thread.list.upsert(message);
        this.thread.list.render();
      }
    }
    this.app.channels.message(this.channel.id, this.list.newest() || message);
  }

  read(message, receipt) {
    if (!receipt?.user || receipt.user.id === this.me.id) return;
    this.addMember(receipt.user);
    this.bumpRead(receipt.user.id, message.id);
  }

  bumpRead(userId, messageId) {
    if ((this.readUpTo.get(userId) || 0) >= messageId) return;
    this.readUpTo.set(userId, messageId);
    this.list.render();
  }

  typingChanged(user, typing) {
    if (!user || user.id === this.me.id) return;
    const old = this.typing.get(user.name);
    if (old) clearTimeout(old.timer);
    if (typing) {
      // A safety net in case the stop is lost with the connection.
      const timer = setTimeout(() => this.typingChanged(user, false), 10000);
      this.typing.set(user.name, { user, timer });
    } else this.typing.delete(user.name);
    const names = [...this.typing.values()].map((t) => nameOf(t.user));
    this.typingLine.replaceChildren(
      ...(names.length
        ? [h('span', { class: 'typing-dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), names.length === 1 ? `${names[0]} is typing…` : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…']
        : []),
    );
  }

  /** Someone who posted, read or entered is a member (e.g. who just joined). */
  addMember(user, fresh = false) {
    if (this.ended || !user?.id) return;
    if (this.members.has(user.id) && !fresh) return;
    this.members.set(user.id, { ...this.members.get(user.id), ...user });
    this.renderHead();
  }

  memberPresence(user) {
    if (this.ended || !this.members.has(user.id)) return;
    this.members.set(user.id, { ...this.members.get(user.id), ...user });
    this.renderHead();
  }

  channelUpdated(channel) {
    this.channel = { ...this.channel, ...channel };
    this.renderHead();
  }

  // ---------- members, receipts, read state ----------

  async loadMembers() {
    const r = await this.kitty.getChannelMembers({ channel: this.channel });
    if (!r.succeeded || this.ended) return;
    let page = r.paginator;
    const users = [...page.items];
    while (page.hasNextPage && users.length < 200) {
      page = await page.nextPage();
      users.push(...page.items);
    }
    for (const u of users) this.members.set(u.id, u);
    this.renderHead();
  }

  async people() {
    return [...this.members.values()].filter((u) => u.id !== this.me.id);
  }

  /** Where each other member's read position is, for the receipts on our messages. */
  async loadReceipts() {
    const others = [...this.members.values()].filter((u) => u.id !== this.me.id).slice(0, 12);
    await Promise.all(
      others.map(async (u) => {
        const r = await this.kitty.getLastReadMessage({ channel: this.channel, username: u.name });
        if (r.succeeded && r.message && !this.ended) this.bumpRead(u.id, r.message.id);
      }),
    );
  }

  markRead() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      if (this.ended || document.visibilityState !== 'visible') return;
      this.kitty.readChannel({ channel: this.channel });
      this.app.channels.markRead(this.channel.id);
    }, 250);
  }

  draft(keys) {
    try {
      this.kitty.sendKeystrokes({ channel: this.channel, keys });
    } catch {
      /* no session (signing out) */
    }
  }

  // ---------- sending ----------

  async sendText(body, list) {
    const pending = list.addPending({ body });
    const target = list.parent ? { message: list.parent } : { channel: this.channel };
    let r;
    try {
      r = await this.kitty.sendMessage({ ...target, body });
    } catch (e) {
      r = { succeeded: false, error: e };
    }
    this.settle(list, pending, r, () => this.sendText(body, list));
  }

  sendFiles(files, list) {
    for (const file of files) this.sendFile(file, list);
  }

  async sendFile(file, list) {
    const pending = list.addPending({ file });
    const target = list.parent ? { message: list.parent } : { channel: this.channel };
    let r;
    try {
      r = await this.kitty.sendMessage({
        ...target,
        file,
        progressListener: {
          onStarted: () => list.progress(pending, 0),
          onProgress: (p) => list.progress(pending, p),
          onCompleted: () => list.progress(pending, 1),
        },
      });
    } catch (e) {
      r = { succeeded: false, error: e };
    }
    this.settle(list, pending, r, () => this.sendFile(file, list));
  }

  settle(list, pending, r, retry) {
    if (this.ended) return;
    if (r.succeeded) {
      list.resolvePending(pending, r.message);
      if (!list.parent) this.app.channels.message(this.channel.id, r.message);
    } else {
      pending.error = r.error?.message || (r.error?.response ? `Upload failed (${r.error.response.status})` : 'Not sent.');
      pending.retry = () => {
        list.dropPending(pending);
        retry();
      };
      list.render();
    }
  }

  async toggleReaction(message, alias, character) {
    const mine = (message.reactions || []).some((s) => s.emoji?.character === character && s.users?.some((u) => u.id === this.me.id));
    const r = mine
      ? await this.kitty.removeReaction({ message, emoji: alias })
      : await this.kitty.reactToMessage({ message, emoji: alias });
    if (!r.succeeded) {
      this.app.toast(r.error?.message || 'Could not update the reaction.', 'bad');
      return;
    }
    // Shown at once; the reaction event brings the authoritative summary.
    const current = this.find(message.id) || message;
    const summaries = (current.reactions || []).map((x) => ({ ...x, users: [...(x.users || [])] }));
    let s = summaries.find((x) => x.emoji?.character === character);
    if (mine && s) {
      s.users = s.users.filter((u) => u.id !== this.me.id);
      s.count = s.users.length;
    } else if (!mine) {
      if (!s) summaries.push((s = { emoji: r.reaction?.emoji || { character, aliases: [alias] }, users: [], count: 0 }));
      if (!s.users.some((u) => u.id === this.me.id)) s.users.push(this.me);
      s.count = s.users.length;
    }
    this.updated({ ...current, reactions: summaries.filter((x) => x.count > 0) });
  }

  find(id) {
    return this.list.messages.get(id) || this.thread?.list.messages.get(id) || (this.thread?.parent.id === id ? this.thread.parent : null);
  }

  async edit(message, body) {
    const r = await this.kitty.editMessage({ message, body });
    if (!r.succeeded) {
      this.app.toast(r.error?.message || 'Could not edit the message.', 'bad');
      return false;
    }
    this.updated(r.message);
    return true;
  }

  async remove(message) {
    const r = await this.kitty.deleteMessage({ message });
    if (!r.succeeded) {
      this.app.toast(r.error?.message || 'Could not delete the message.', 'bad');
      return;
    }
    this.updated(r.message);
  }

  // ---------- thread panel ----------

  openThread(message) {
    if (this.thread?.parent.id === message.id) {
      this.thread.composer.focus();
      return;
    }
    this.closeThread();
    this.thread = new ThreadPanel(this, message);
    this.el.append(this.thread.el);
    this.el.classList.add('with-thread');
    this.thread.load();
    this.thread.composer.focus();
  }

  closeThread() {
    if (!this.thread) return;
    const id = this.thread.parent.id;
    this.thread.el.remove();
    this.thread.list.dispose();
    this.thread = null;
    this.el.classList.remove('with-thread');
    this.list.scroller.querySelector(`[data-id="${id}"] .replies`)?.focus();
  }

  // ---------- header ----------

  renderHead() {
    const me = this.me;
    this.moderate.hidden = !moderates(this.channel);
    this.title.textContent = this.channel.type === 'DIRECT' ? titleOf(this.channel, me) : `# ${titleOf(this.channel, me)}`;
    const members = [...this.members.values()];
    const others = members.length ? members.filter((u) => u.id !== me.id) : otherMembers(this.channel, me);
    const online = others.filter((u) => u.presence?.online);
    if (this.channel.type === 'DIRECT' && others.length === 1) {
      this.subtitle.replaceChildren(h('span', { class: online.length ? 'dot online' : 'dot', 'aria-hidden': 'true' }), online.length ? 'Online' : 'Offline');
    } else {
      const count = members.length || others.length + 1;
      this.subtitle.replaceChildren(
        this.channel.type === 'PRIVATE' ? 'Private · ' : this.channel.type === 'PUBLIC' ? 'Public · ' : '',
        `${count} member${count === 1 ? '' : 's'}`,
        online.length ? ` · ${online.length} online` : '',
      );
    }
    const shown = [...others].sort((a, b) => Number(b.presence?.online) - Number(a.presence?.online)).slice(0, 6);
    this.memberList.replaceChildren(
      ...shown.map((u) =>
        h(
          'li',
          { class: u.presence?.online ? 'member online' : 'member', 'data-member': u.name, title: `${nameOf(u)} — ${u.presence?.online ? 'online' : 'offline'}` },
          avatar(u, 'sm'),
          h('span', { class: u.presence?.online ? 'dot online' : 'dot', 'aria-hidden': 'true' }),
          h('span', { class: 'sr-only' }, `${nameOf(u)}, ${u.presence?.online ? 'online' : 'offline'}`),
        )),
    );
  }
}

/** Replies to one message, beside the conversation (over it on a phone). */
class ThreadPanel {
  constructor(conversation, parent) {
    this.conversation = conversation;
    this.parent = parent;
    this.list = new MessageList(conversation, { kind: 'thread', parent, label: 'Replies' });
    this.parentEl = h('div', { class: 'thread-parent' });
    this.composer = createComposer({
      label: 'Reply',
      placeholder: 'Reply…',
      people: () => conversation.people(),
      onSend: (body) => conversation.sendText(body, this.list),
      onFiles: (files) => conversation.sendFiles(files, this.list),
      onDraft: (keys) => conversation.draft(keys),
    });
    this.el = h(
      'aside',
      { class: 'thread', 'aria-labelledby': 'thread-title' },
      h('header', { class: 'thread-head' }, h('h2', { id: 'thread-title' }, 'Thread'), h('button', { type: 'button', class: 'ghost small', 'aria-label': 'Close thread', onclick: () => conversation.closeThread() }, icon('close'))),
      this.parentEl,
      h('div', { class: 'timeline-wrap' }, this.list.scroller),
      this.composer.el,
    );
    this.renderParent();
  }

  renderParent() {
    const m = this.parent;
    this.parentEl.replaceChildren(
      h('div', { class: 'meta' }, avatar(m.user, 'sm'), h('strong', {}, m.user ? nameOf(m.user) : 'System'), ' ', h('time', { class: 'muted small', datetime: m.createdTime }, clock(m.createdTime))),
      contentOf(m, this.conversation.me),
      h('p', { class: 'muted small' }, `${m.repliesCount || 0} ${m.repliesCount === 1 ? 'reply' : 'replies'}`),
    );
  }

  async load() {
    const r = await this.conversation.kitty.getMessages({ message: this.parent });
    if (!r.succeeded) {
      this.list.error = r.error?.message || 'Could not load replies.';
      this.list.render();
      return;
    }
    let page = r.paginator;
    const items = [...page.items];
    while (page.hasNextPage && items.length < 200) {
      page = await page.nextPage();
      items.push(...page.items);
    }
    this.list.merge(items);
    this.list.loaded = true;
    this.list.atStart = true;
    this.list.render({ stick: true });
  }
}

/** A list of messages (the conversation's, or a thread's), rendered by message id. */
class MessageList {
  constructor(conversation, { kind, parent = null, label }) {
    this.conversation = conversation;
    this.kind = kind;
    this.parent = parent;
    this.messages = new Map();
    this.pending = [];
    this.nodes = new Map(); // key → {el, sig}
    this.loaded = false;
    this.atStart = false;
    this.error = null;
    this.editing = null;
    this.confirming = null;
    this.picking = null;
    this.seq = 0;
    this.ol = h('ol', { class: 'messages', 'aria-label': label });
    this.scroller = h('div', { class: 'timeline', tabindex: '0', 'aria-label': label }, this.ol);
    this.top = h('li', { class: 'history' });
    // Whether the view follows new messages: true while scrolled to the bottom.
    this.stuck = true;
    this.onScroll = () => {
      this.stuck = this.nearBottom();
      this.maybeLoadOlder();
      if (this.stuck && this.kind === 'main') this.conversation.newBelow.hidden = true;
    };
    this.scroller.addEventListener('scroll', this.onScroll, { passive: true });
    // Images load after they are laid out: stay at the bottom if we were there.
    this.scroller.addEventListener('load', () => { if (this.stuck) this.scroller.scrollTop = this.scroller.scrollHeight; }, true);
    this.render();
  }

  dispose() {
    this.scroller.removeEventListener('scroll', this.onScroll);
    for (const p of this.pending) if (p.preview) URL.revokeObjectURL(p.preview);
  }

  get me() {
    return this.conversation.me;
  }

  newest() {
    let best = null;
    for (const m of this.messages.values()) if (!best || m.id > best.id) best = m;
    return best;
  }

  merge(items) {
    for (const m of items) this.upsert(m);
  }

  upsert(message, { fromLive = false } = {}) {
    const old = this.messages.get(message.id);
    this.messages.set(message.id, old ? merged(old, message) : message);
    // Our own message came back before sendMessage resolved: drop its placeholder.
    if (fromLive && !old && message.user?.id === this.me.id) {
      const i = this.pending.findIndex((p) => !p.error && (message.file ? p.file?.name === message.file.name : p.body === message.body));
      if (i >= 0) this.dropPending(this.pending[i], false);
    }
  }

  addPending({ body, file }) {
    const p = { key: `p${++this.seq}`, body, file, progress: file ? 0 : null, createdTime: new Date().toISOString() };
    if (file && file.type?.startsWith('image/')) p.preview = URL.createObjectURL(file);
    this.pending.push(p);
    this.render({ stick: true });
    return p;
  }

  progress(p, fraction) {
    if (!Number.isFinite(fraction)) return;
    p.progress = fraction;
    const node = this.nodes.get(p.key);
    const bar = node?.el.querySelector('progress');
    if (bar) {
      bar.value = fraction;
      node.el.querySelector('.progress-label').textContent = `${Math.round(fraction * 100)}%`;
    }
  }

  resolvePending(p, message) {
    this.dropPending(p, false);
    this.upsert(message);
    this.render();
  }

  dropPending(p, render = true) {
    const i = this.pending.indexOf(p);
    if (i >= 0) this.pending.splice(i, 1);
    if (p.preview) setTimeout(() => URL.revokeObjectURL(p.preview), 30000);
    if (render) this.render();
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.conversation.newBelow.hidden = true;
  }

  async maybeLoadOlder() {
    const c = this.conversation;
    if (this.kind !== 'main' || !this.loaded || this.loadingOlder || !c.paginator?.hasNextPage) return;
    if (this.scroller.scrollTop > 400) return;
    this.loadingOlder = true;
    this.render();
    try {
      const next = await c.paginator.nextPage();
      if (c.ended) return;
      c.paginator = next;
      this.merge(next.items);
    } catch (e) {
      this.error = e?.message || 'Could not load earlier messages.';
    } finally {
      this.loadingOlder = false;
    }
    this.render();
    // Still at the top (a tall window or a short page): keep going.
    requestAnimationFrame(() => this.maybeLoadOlder());
  }

  /** Puts the DOM in step with the data, keeping the scroll position. */
  render({ stick = false, newFromOthers = false } = {}) {
    const s = this.scroller;
    const wasNearBottom = this.stuck;
    // The first message on screen stays where it is when older ones are added above.
    let anchor = null;
    let anchorTop = 0;
    for (const el of this.ol.children) {
      if (el.offsetTop + el.offsetHeight > s.scrollTop && el.dataset.id) {
        anchor = el;
        anchorTop = el.offsetTop - s.scrollTop;
        break;
      }
    }

    // Keep the keyboard focus on the same control if its message is redrawn.
    const focused = this.ol.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = focused?.closest('[data-id]')?.dataset.id;
    const focusLabel = focused?.getAttribute('aria-label');

    const c = this.conversation;
    const me = this.me;
    const sorted = [...this.messages.values()].sort((a, b) => (a.createdTime < b.createdTime ? -1 : a.createdTime > b.createdTime ? 1 : a.id - b.id));
    // Receipts: the newest of our messages that someone else has read.
    let seenBy = [];
    let lastSeenId = 0;
    for (const m of sorted) {
      if (m.user?.id !== me.id) continue;
      const readers = [...c.readUpTo].filter(([, id]) => id >= m.id).map(([uid]) => uid);
      if (readers.length) {
        lastSeenId = m.id;
        seenBy = readers;
      }
    }

    const wanted = [];
    this.renderTop();
    wanted.push(this.top);
    let prev = null;
    for (const m of sorted) {
      const day = dayKey(m.createdTime);
      if (!prev || dayKey(prev.createdTime) !== day) {
        wanted.push(this.keyed(`day:${day}`, day, () => h('li', { class: 'day', role: 'separator' }, h('span', {}, dayLabel(m.createdTime)))));
        prev = null;
      }
      const continued = !!(prev && prev.user && m.user && prev.user.id === m.user.id && !prev.deletedTime && Date.parse(m.createdTime) - Date.parse(prev.createdTime) < GROUP_MS);
      const read = m.user?.id === me.id && c.readUpTo.size && [...c.readUpTo.values()].some((id) => id >= m.id);
      const state = {
        continued,
        read: !!read,
        seenBy: m.id === lastSeenId ? seenBy.map((id) => nameOf(c.members.get(id))).join(', ') : '',
        editing: this.editing === m.id,
        confirming: this.confirming === m.id,
        picking: this.picking === m.id,
      };
      // While a message is being edited, confirmed or reacted to, it keeps its node
      // (and the focus in it) whatever else changes.
      const busy = state.editing || state.confirming || state.picking;
      const sig = busy ? JSON.stringify(['busy', state.editing, state.confirming, state.picking]) : JSON.stringify([m._v, state]);
      wanted.push(this.keyed(m.id, sig, () => this.messageEl(m, state)));
      prev = m;
    }
    for (const p of this.pending) wanted.push(this.keyed(p.key, JSON.stringify([p.error, !!p.retry]), () => this.pendingEl(p)));

    // Reconcile: reuse nodes by key, move them into place, drop the rest.
    const keep = new Set(wanted);
    for (const el of [...this.ol.children]) if (!keep.has(el)) el.remove();
    wanted.forEach((el, i) => {
      if (this.ol.children[i] !== el) this.ol.insertBefore(el, this.ol.children[i] || null);
    });
    for (const [k, n] of this.nodes) if (!keep.has(n.el)) this.nodes.delete(k);

    if (focused && !focused.isConnected && focusKey) {
      const li = this.ol.querySelector(`[data-id="${focusKey}"]`);
      const again = (focusLabel && li?.querySelector(`[aria-label="${CSS.escape(focusLabel)}"]`)) || li?.querySelector('button');
      again?.focus({ preventScroll: true });
    }
    if (stick || wasNearBottom) {
      s.scrollTop = s.scrollHeight;
      this.stuck = true;
    }
    else if (anchor && anchor.isConnected) s.scrollTop = anchor.offsetTop - anchorTop;
    if (newFromOthers && !wasNearBottom && this.kind === 'main') c.newBelow.hidden = false;
  }

  keyed(key, sig, make) {
    const n = this.nodes.get(key);
    if (n && n.sig === sig) return n.el;
    const el = make();
    this.nodes.set(key, { el, sig });
    return el;
  }

  renderTop() {
    const c = this.conversation;
    let content;
    if (this.error) content = h('span', { class: 'error' }, this.error);
    else if (!this.loaded) content = h('span', { class: 'muted' }, 'Loading messages…');
    else if (this.kind === 'thread') content = this.messages.size ? null : h('span', { class: 'muted' }, 'No replies yet. Start the thread!');
    else if (this.loadingOlder) content = h('span', { class: 'muted' }, 'Loading earlier messages…');
    else if (c.paginator?.hasNextPage) content = h('button', { type: 'button', class: 'ghost small', onclick: () => { this.scroller.scrollTop = 0; this.maybeLoadOlder(); } }, 'Load earlier messages');
    else {
      const ch = c.channel;
      content = h(
        'div',
        { class: 'beginning' },
        h('strong', {}, ch.type === 'DIRECT' ? `This is the beginning of your conversation with ${titleOf(ch, this.me)}.` : `This is the beginning of #${titleOf(ch, this.me)}.`),
      );
    }
    this.top.replaceChildren(...(content ? [content] : []));
  }

  messageEl(m, state) {
    const c = this.conversation;
    const me = this.me;
    const mine = m.user?.id === me.id;
    const deleted = !!m.deletedTime;
    const li = h('li', {
      class: `message${mine ? ' mine' : ''}${state.continued ? ' continued' : ''}${deleted ? ' deleted' : ''}${!m.user ? ' system' : ''}`,
      'data-id': String(m.id),
      title: state.continued ? clock(m.createdTime) : undefined,
      // On touch screens a tap shows the message's actions.
      onclick: (e) => {
        if (e.target.closest('button, a, textarea, input')) return;
        for (const other of this.ol.querySelectorAll('.message.tapped')) if (other !== li) other.classList.remove('tapped');
        li.classList.toggle('tapped');
      },
    });
    const head = state.continued
      ? null
      : h('div', { class: 'meta' }, h('strong', { class: 'author' }, m.user ? nameOf(m.user) : 'Kitty Chat'), ' ', h('time', { class: 'muted small', datetime: m.createdTime }, clock(m.createdTime)));
    const content = h('div', { class: 'bubble' }, head);
    if (state.editing) {
      content.append(this.editForm(m));
    } else {
      const body = contentOf(m, me);
      if (m.lastEditedTime && !deleted) body.append(h('span', { class: 'edited muted small' }, ' (edited)'));
      content.append(body);
    }
    if (m.reactions?.length && !deleted) {
      content.append(
        h(
          'div',
          { class: 'reactions', role: 'group', 'aria-label': 'Reactions' },
          ...m.reactions.map((s) => {
            const reacted = s.users?.some((u) => u.id === me.id);
            const who = (s.users || []).map(nameOf).join(', ');
            const alias = s.emoji?.aliases?.[0] || s.emoji?.character;
            return h(
              'button',
              {
                type: 'button', class: reacted ? 'reaction mine' : 'reaction', 'aria-pressed': reacted ? 'true' : 'false',
                title: who, 'aria-label': `${s.emoji?.character} ${s.count}: ${who}`,
                onclick: () => c.toggleReaction(this.messages.get(m.id) || m, alias, s.emoji?.character),
              },
              h('span', { class: 'emoji' }, s.emoji?.character), h('span', { class: 'count' }, String(s.count)),
            );
          }),
        ),
      );
    }
    if (this.kind === 'main' && m.repliesCount > 0) {
      content.append(h('button', { type: 'button', class: 'replies link', onclick: () => c.openThread(this.messages.get(m.id) || m) }, icon('thread'), ` ${m.repliesCount} ${m.repliesCount === 1 ? 'reply' : 'replies'}`));
    }
    if (state.confirming) {
      content.append(
        h(
          'div',
          { class: 'confirm', role: 'group', 'aria-label': 'Delete this message?' },
          h('span', {}, 'Delete this message for everyone?'),
          h('button', { type: 'button', class: 'danger small', onclick: () => { this.confirming = null; this.render(); c.remove(this.messages.get(m.id) || m); } }, 'Delete'),
          h('button', { type: 'button', class: 'ghost small', onclick: () => { this.confirming = null; this.render(); } }, 'Cancel'),
        ),
      );
    }
    li.append(state.continued ? h('span', { class: 'avatar-space', 'aria-hidden': 'true' }) : avatar(m.user || { name: '🐱' }), content);
    if (mine && !deleted) {
      li.append(
        h('span', { class: state.read ? 'receipt read' : 'receipt', title: state.read ? 'Read' : 'Sent' }, icon(state.read ? 'checks' : 'check', state.read ? 'Read' : 'Sent'), state.seenBy ? h('span', { class: 'seen' }, `Seen by ${state.seenBy}`) : null),
      );
    }
    if (!deleted && m.user) li.append(this.actions(m, mine, state));
    return li;
  }

  actions(m, mine, state) {
    const c = this.conversation;
    const current = () => this.messages.get(m.id) || m;
    const bar = h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Message actions' });
    const react = h('button', { type: 'button', class: 'icon', 'aria-label': 'Add reaction', 'aria-expanded': state.picking ? 'true' : 'false', title: 'React', onclick: () => { this.picking = this.picking === m.id ? null : m.id; this.render(); this.ol.querySelector(`[data-id="${m.id}"] .picker button`)?.focus(); } }, icon('smile'));
    bar.append(react);
    if (this.kind === 'main') bar.append(h('button', { type: 'button', class: 'icon', 'aria-label': 'Reply in thread', title: 'Reply in thread', onclick: () => c.openThread(current()) }, icon('reply')));
    if (mine && m.body !== undefined) bar.append(h('button', { type: 'button', class: 'icon', 'aria-label': 'Edit message', title: 'Edit', onclick: () => { this.editing = m.id; this.render(); this.ol.querySelector(`[data-id="${m.id}"] textarea`)?.focus(); } }, icon('edit')));
    if (!mine) bar.append(h('button', { type: 'button', class: 'icon', 'aria-label': 'Report message', title: 'Report to the moderators', onclick: () => reportMessage(this.conversation.app, current()) }, icon('flag')));
    if (mine) bar.append(h('button', { type: 'button', class: 'icon', 'aria-label': 'Delete message', title: 'Delete', onclick: () => { this.confirming = m.id; this.render(); this.ol.querySelector(`[data-id="${m.id}"] .confirm .danger`)?.focus(); } }, icon('trash')));
    if (state.picking) {
      bar.append(
        h(
          'div',
          {
            class: 'picker', role: 'group', 'aria-label': 'Pick a reaction',
            onkeydown: (e) => { if (e.key === 'Escape') { e.stopPropagation(); this.picking = null; this.render(); } },
          },
          ...REACTIONS.map(([alias, ch]) => h('button', { type: 'button', class: 'icon', 'aria-label': `React with ${alias}`, title: alias, onclick: () => { this.picking = null; this.render(); c.toggleReaction(current(), alias, ch); } }, ch)),
        ),
      );
    }
    return bar;
  }

  editForm(m) {
    const input = h('textarea', { class: 'edit-input', 'aria-label': 'Edit message', rows: 2 });
    input.value = m.body || '';
    const cancel = () => { this.editing = null; this.render(); };
    const save = async () => {
      const body = input.value.trim();
      if (!body || body === m.body) return cancel();
      if (await this.conversation.edit(this.messages.get(m.id) || m, body)) cancel();
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); save(); }
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); cancel(); }
    });
    return h('form', { class: 'edit', onsubmit: (e) => { e.preventDefault(); save(); } }, input, h('div', { class: 'edit-actions' }, h('button', { type: 'button', class: 'ghost small', onclick: cancel }, 'Cancel'), h('button', { type: 'submit', class: 'primary small' }, 'Save')));
  }

  pendingEl(p) {
    const me = this.me;
    const li = h('li', { class: `message mine pending${p.error ? ' failed' : ''}`, 'data-pending': p.key });
    const bubble = h('div', { class: 'bubble' });
    if (p.body !== undefined) bubble.append(h('div', { class: 'body' }, p.body));
    if (p.file) {
      bubble.append(
        h(
          'div',
          { class: 'file upload' },
          p.preview ? h('img', { class: 'preview', src: p.preview, alt: p.file.name }) : null,
          h('div', { class: 'file-name' }, icon('attach'), ` ${p.file.name}`, h('span', { class: 'muted small' }, ` ${bytes(p.file.size)}`)),
          h('div', { class: 'progress-row' }, h('progress', { max: 1, value: p.progress || 0, 'aria-label': `Uploading ${p.file.name}` }), h('span', { class: 'progress-label small muted' }, `${Math.round((p.progress || 0) * 100)}%`)),
        ),
      );
    }
    // (Node.append would show a null as the text "null".)
    if (p.error) {
      bubble.append(h('div', { class: 'error small', role: 'alert' }, `Not sent: ${p.error} `, h('button', { type: 'button', class: 'link small', onclick: () => p.retry?.() }, 'Retry'), ' ', h('button', { type: 'button', class: 'link small', onclick: () => this.dropPending(p) }, 'Discard')));
    }
    li.append(avatar(me), bubble);
    if (!p.error) li.append(h('span', { class: 'receipt sending' }, p.file ? 'Uploading…' : 'Sending…'));
    return li;
  }
}

/** A message's text, file or "deleted" line. */
function contentOf(m, me) {
  if (m.deletedTime) return h('div', { class: 'body deleted-text muted' }, 'This message was deleted.');
  if (m.file) return fileEl(m.file);
  return h('div', { class: 'body' }, ...bodyNodes(m, me));
}

function fileEl(file) {
  const url = safeUrl(file.url);
  const size = bytes(file.size);
  if (url && file.contentType?.startsWith('image/')) {
    return h(
      'figure',
      { class: 'file image' },
      h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, h('img', { class: 'preview', src: url, alt: file.name, loading: 'lazy', decoding: 'async' })),
      h('figcaption', { class: 'muted small' }, file.name, size ? ` · ${size}` : ''),
    );
  }
  return h(
    'div',
    { class: 'file doc' },
    h('span', { class: 'file-icon' }, icon('file')),
    h('span', { class: 'file-name' }, url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', download: file.name }, file.name) : file.name, h('span', { class: 'muted small block' }, [file.contentType, size].filter(Boolean).join(' · '))),
  );
}

let version = 0;
/** The newer copy of a message; file links keep their read grant (updates carry none). */
function merged(old, next) {
  const out = { ...next, _v: ++version };
  if (old.file && next.file && old.file.url?.includes('grant=') && !next.file.url?.includes('grant=')) {
    out.file = { ...next.file, url: old.file.url };
  }
  return out;
}
