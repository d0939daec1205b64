// The sidebar: the channels the user belongs to, newest activity first, with unread
// badges and the last message, kept live by the instance observers; and the dialogs
// to start a direct conversation, create a channel and browse public channels.
import { h, avatar, nameOf, preview, shortTime, icon } from './dom.js';

export function titleOf(channel, me) {
  if (channel.type !== 'DIRECT') return channel.displayName || channel.name;
  const others = (channel.members || []).filter((m) => m.id !== me?.id);
  return others.map(nameOf).join(', ') || channel.displayName || channel.name;
}

export function otherMembers(channel, me) {
  return (channel.members || []).filter((m) => m.id !== me?.id);
}

export class ChannelList {
  constructor(app) {
    this.app = app;
    this.kitty = app.kitty;
    /** id → {channel, unread, last} */
    this.entries = new Map();
    this.activeId = null;
    this.loading = true;
    this.list = h('ul', { class: 'channel-list' });
    this.el = h('nav', { class: 'channels', 'aria-label': 'Your conversations' }, this.list);
    this.toolbar = h(
      'div',
      { class: 'toolbar' },
      h('button', { type: 'button', class: 'primary small', onclick: () => this.newDirect() }, icon('plus'), 'New chat'),
      h('button', { type: 'button', class: 'ghost small', onclick: () => this.create() }, 'New channel'),
      h('button', { type: 'button', class: 'ghost small', onclick: () => this.browse() }, 'Browse'),
    );
    const k = this.kitty;
    this.unsubscribe = [
      k.onNotificationReceived((n) => this.notified(n)),
      k.onChannelJoined((c) => this.joined(c)),
      k.onChannelUnhidden((c) => this.joined(c)),
      k.onChannelUpdated((c) => this.updated(c)),
      k.onChannelLeft((c) => this.remove(c.id)),
      k.onUserPresenceChanged((u) => this.presence(u)),
    ];
    this.render();
  }

  dispose() {
    for (const u of this.unsubscribe) u();
  }

  get(id) {
    return this.entries.get(id)?.channel;
  }

  /** All joined channels, with their unread counts. */
  async load() {
    const r = await this.kitty.getChannels({ filter: { joined: true } });
    if (!r.succeeded) {
      this.app.toast(r.error?.message || 'Could not load your conversations.', 'bad');
      return;
    }
    let page = r.paginator;
    const channels = [...page.items];
    while (page.hasNextPage && channels.length < 500) {
      page = await page.nextPage();
      channels.push(...page.items);
    }
    const seen = new Set();
    for (const c of channels) {
      seen.add(c.id);
      this.upsert(c, { render: false });
    }
    for (const id of [...this.entries.keys()]) if (!seen.has(id)) this.entries.delete(id);
    this.loading = false;
    await Promise.all(channels.map((c) => this.refreshUnread(c.id, false)));
    this.render();
  }

  /** A first-time user lands in #general, so there is always somewhere to talk. */
  async ensureGeneral() {
    for (let attempt = 0; attempt < 2 && !this.entries.size; attempt++) {
      const r = await this.kitty.getChannels({ filter: { joined: false, name: 'general' } });
      const general = r.succeeded ? r.paginator.items.find((c) => c.name === 'general') : null;
      if (general) {
        try {
          const j = await this.kitty.joinChannel({ channel: general });
          if (j.succeeded) this.upsert(j.channel);
        } catch {
          /* not joinable: fine */
        }
        return;
      }
      // Someone else may create it at the same moment: then look again and join.
      const c = await this.kitty.createChannel({ type: 'PUBLIC', name: 'general', displayName: 'general' });
      if (c.succeeded) this.upsert(c.channel);
    }
  }

  upsert(channel, { render = true } = {}) {
    const e = this.entries.get(channel.id);
    if (e) {
      e.channel = { ...e.channel, ...channel };
      if (channel.lastReceivedMessage && isNewer(channel.lastReceivedMessage, e.last)) e.last = channel.lastReceivedMessage;
    } else {
      this.entries.set(channel.id, { channel, unread: 0, last: channel.lastReceivedMessage || null });
    }
    if (render) this.render();
  }

  async refreshUnread(id, render = true) {
    const e = this.entries.get(id);
    if (!e) return;
    if (id === this.activeId && document.visibilityState === 'visible') {
      e.unread = 0;
    } else {
      const r = await this.kitty.getUnreadMessagesCount({ channel: e.channel });
      if (r.succeeded) e.unread = r.count;
    }
    if (render) this.render();
  }

  /** A message in a channel (from the open conversation or a notification). */
  message(channelId, message, { unread = false } = {}) {
    const e = this.entries.get(channelId);
    if (!e) return;
    if (!message._relays?.parent && isNewer(message, e.last)) e.last = message;
    if (unread) e.unread += 1;
    this.render();
  }

  markRead(id) {
    const e = this.entries.get(id);
    if (e && e.unread) {
      e.unread = 0;
      this.render();
    }
  }

  async notified(n) {
    const message = n.data?.message;
    const id = n.channel?.id ?? message?.channelId ?? n.data?.channelId;
    if (id == null) return;
    if (!this.entries.has(id)) {
      if (n.channel) this.upsert(n.channel, { render: false });
      else {
        const r = await this.kitty.getChannel(id);
        if (!r.succeeded) return;
        this.upsert(r.channel, { render: false });
      }
    }
    // The open conversation counts its own messages (mentions and replies there are
    // notified too).
    if (id === this.activeId) return;
    if (message && !message._relays?.parent && isNewer(message, this.entries.get(id).last)) this.entries.get(id).last = message;
    await this.refreshUnread(id, false);
    this.render();
    if (n.data?.type === 'USER:MENTIONED:USER') this.app.toast(n.title || 'You were mentioned');
  }

  joined(channel) {
    const isNew = !this.entries.has(channel.id);
    this.upsert(channel);
    if (isNew) this.refreshUnread(channel.id);
  }

  updated(channel) {
    if (!this.entries.has(channel.id)) return;
    this.upsert(channel);
    if (this.app.conversation?.channel.id === channel.id) this.app.conversation.channelUpdated(channel);
  }

  remove(id) {
    this.entries.delete(id);
    this.render();
    if (this.activeId === id) this.app.close();
  }

  presence(user) {
    let changed = false;
    for (const e of this.entries.values()) {
      const members = e.channel.members;
      if (!members) continue;
      const i = members.findIndex((m) => m.id === user.id);
      if (i >= 0) {
        members[i] = { ...members[i], presence: user.presence };
        changed = true;
      }
    }
    if (changed) this.render();
    this.app.conversation?.memberPresence(user);
  }

  setActive(id) {
    this.activeId = id;
    if (id !== null) this.markRead(id);
    this.render();
  }

  render() {
    const me = this.app.me;
    const items = [...this.entries.values()].sort((a, b) => activity(b).localeCompare(activity(a)));
    const total = items.reduce((n, e) => n + (e.channel.id === this.activeId ? 0 : e.unread), 0);
    document.title = total ? `(${total}) Kitty Chat` : 'Kitty Chat';
    if (!items.length) {
      this.list.replaceChildren(h('li', { class: 'empty muted' }, this.loading ? 'Loading…' : 'No conversations yet.'));
      return;
    }
    this.list.replaceChildren(
      ...items.map((e) => {
        const c = e.channel;
        const active = c.id === this.activeId;
        const title = titleOf(c, me);
        const others = otherMembers(c, me);
        const lead =
          c.type === 'DIRECT'
            ? h('span', { class: 'icon-wrap' }, avatar(others[0] || me), others.length === 1 ? h('span', { class: others[0].presence?.online ? 'dot online' : 'dot', 'aria-hidden': 'true' }) : null)
            : h('span', { class: 'channel-icon' }, icon(c.type === 'PRIVATE' ? 'lock' : 'hash'));
        const unread = active ? 0 : e.unread;
        const status = c.type === 'DIRECT' && others.length === 1 ? (others[0].presence?.online ? ', online' : ', offline') : '';
        return h(
          'li',
          {},
          h(
            'a',
            {
              class: `channel-item${active ? ' active' : ''}${unread ? ' unread' : ''}`,
              href: `#/c/${c.id}`,
              'aria-current': active ? 'page' : undefined,
              'data-channel-id': String(c.id),
              'aria-label': `${title}${status}${unread ? `, ${unread} unread` : ''}`,
            },
            lead,
            h(
              'span',
              { class: 'channel-text' },
              h('span', { class: 'channel-row' }, h('span', { class: 'channel-title' }, title), h('time', { class: 'muted small', datetime: e.last?.createdTime }, shortTime(e.last?.createdTime))),
              h('span', { class: 'channel-row' }, h('span', { class: 'channel-preview muted' }, preview(e.last, me) || (c.type === 'DIRECT' ? 'Say hi 👋' : 'No messages yet')), unread ? h('span', { class: 'badge' }, unread > 99 ? '99+' : String(unread)) : null),
            ),
          ),
        );
      }),
    );
  }

  // ---------- dialogs ----------

  /** Start a direct conversation with one or more people. */
  async newDirect() {
    const input = h('input', { id: 'dm-usernames', autocomplete: 'off', placeholder: 'john, mary', required: true, autocapitalize: 'none', spellcheck: 'false' });
    const people = h('ul', { class: 'people', 'aria-label': 'People' }, h('li', { class: 'muted' }, 'Loading people…'));
    const d = dialog('New message', [
      h('label', { for: 'dm-usernames' }, 'To (usernames, separated by commas)'),
      input,
      h('p', { class: 'hint muted' }, 'One name for a private chat, several for a group conversation.'),
      people,
    ], 'Start chatting', async () => {
      const usernames = [...new Set(input.value.split(/[\s,]+/).map((s) => s.replace(/^@/, '').trim()).filter(Boolean))].filter((u) => u !== this.app.me.name);
      if (!usernames.length) return 'Enter at least one username other than yours.';
      const r = await this.kitty.createChannel({ type: 'DIRECT', members: usernames.map((username) => ({ username })) });
      if (!r.succeeded) return r.error?.message || 'Could not start the conversation.';
      this.app.open(r.channel);
      return null;
    });
    input.focus();
    const r = await this.kitty.getUsers();
    const users = r.succeeded ? r.paginator.items.filter((u) => u.id !== this.app.me.id) : [];
    users.sort((a, b) => Number(b.presence?.online) - Number(a.presence?.online) || nameOf(a).localeCompare(nameOf(b)));
    if (!d.isConnected) return;
    people.replaceChildren(
      ...(users.length
        ? users.slice(0, 30).map((u) =>
          h(
            'li',
            {},
            h(
              'button',
              {
                type: 'button',
                class: 'person',
                onclick: () => {
                  const names = input.value.split(/[\s,]+/).filter(Boolean);
                  if (!names.includes(u.name)) names.push(u.name);
                  input.value = names.join(', ');
                  input.focus();
                },
              },
              h('span', { class: 'icon-wrap' }, avatar(u, 'sm'), h('span', { class: u.presence?.online ? 'dot online' : 'dot', 'aria-hidden': 'true' })),
              h('span', {}, nameOf(u), ' ', h('span', { class: 'muted small' }, `@${u.name}`)),
              h('span', { class: 'sr-only' }, u.presence?.online ? ' (online)' : ' (offline)'),
            ),
          ))
        : [h('li', { class: 'muted' }, 'Nobody else has signed in yet.')]),
    );
  }

  /** Create a public or private channel. */
  create() {
    const name = h('input', { id: 'channel-name', required: true, maxlength: 80, autocomplete: 'off', placeholder: 'e.g. design-review', autocapitalize: 'none', spellcheck: 'false' });
    const radio = (value, label, hint, checked) =>
      h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'channel-type', value, checked }), h('span', {}, h('strong', {}, label), h('span', { class: 'muted small' }, hint)));
    const pub = radio('PUBLIC', 'Public', 'anyone can find and join it', true);
    const priv = radio('PRIVATE', 'Private', 'only people you invite', false);
    dialog('New channel', [
      h('label', { for: 'channel-name' }, 'Name'),
      name,
      h('fieldset', { class: 'choices' }, h('legend', {}, 'Who can join'), pub, priv),
    ], 'Create channel', async (form) => {
      const channelName = name.value.trim().replace(/^#/, '');
      if (!channelName) return 'Enter a name.';
      const type = form.querySelector('input[name="channel-type"]:checked').value;
      const r = await this.kitty.createChannel({ type, name: channelName, displayName: channelName });
      if (!r.succeeded) return r.error?.message || 'Could not create the channel.';
      this.app.open(r.channel);
      return null;
    });
    name.focus();
  }

  /** Public channels the user has not joined yet. */
  async browse() {
    const filter = h('input', { id: 'browse-filter', type: 'search', autocomplete: 'off', placeholder: 'Filter by name' });
    const list = h('ul', { class: 'browse-list', 'aria-label': 'Public channels' }, h('li', { class: 'muted' }, 'Loading channels…'));
    const d = dialog('Browse channels', [h('label', { for: 'browse-filter' }, 'Find a channel'), filter, list], null, null);
    filter.focus();
    const r = await this.kitty.getChannels({ filter: { joined: false } });
    let channels = [];
    if (r.succeeded) {
      let page = r.paginator;
      channels = [...page.items];
      while (page.hasNextPage && channels.length < 200) {
        page = await page.nextPage();
        channels.push(...page.items);
      }
    }
    if (!d.isConnected) return;
    const show = () => {
      const q = filter.value.trim().toLowerCase();
      const shown = channels.filter((c) => !q || (c.displayName || c.name).toLowerCase().includes(q));
      list.replaceChildren(
        ...(shown.length
          ? shown.map((c) => {
            const join = h('button', { type: 'button', class: 'primary small', 'aria-label': `Join ${c.displayName || c.name}` }, 'Join');
            join.addEventListener('click', async () => {
              join.disabled = true;
              let result;
              try {
                result = await this.kitty.joinChannel({ channel: c });
              } catch (e) {
                result = { succeeded: false, error: e };
              }
              if (!result.succeeded) {
                join.disabled = false;
                this.app.toast(result.error?.message || 'Could not join.', 'bad');
                return;
              }
              d.close();
              this.app.open(result.channel);
            });
            return h('li', { class: 'browse-item' }, h('span', { class: 'channel-icon' }, icon('hash')), h('span', { class: 'grow' }, h('strong', {}, c.displayName || c.name), c.lastReceivedMessage ? h('span', { class: 'muted small block' }, preview(c.lastReceivedMessage, this.app.me)) : null), join);
          })
          : [h('li', { class: 'muted' }, channels.length ? 'No channel matches.' : 'No public channels to join. Create one!')]),
      );
    };
    filter.addEventListener('input', show);
    show();
  }
}

/** A modal dialog with a form; `submit(form)` resolves to an error text or null. */
export function dialog(title, body, submitLabel, submit) {
  const id = `dlg-${Math.random().toString(36).slice(2, 8)}`;
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const submitButton = submitLabel ? h('button', { type: 'submit', class: 'primary' }, submitLabel) : null;
  const form = h('form', { method: 'dialog' }, h('h2', { id }, title), ...body, error, h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'ghost', onclick: () => d.close() }, submitLabel ? 'Cancel' : 'Close'), submitButton));
  const d = h('dialog', { class: 'dialog', 'aria-labelledby': id }, form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!submit) return;
    submitButton.disabled = true;
    error.hidden = true;
    let message;
    try {
      message = await submit(form);
    } catch (err) {
      message = err?.message || String(err);
    }
    submitButton.disabled = false;
    if (message) {
      error.textContent = message;
      error.hidden = false;
    } else d.close();
  });
  d.addEventListener('close', () => d.remove());
  document.body.append(d);
  d.showModal();
  return d;
}

function activity(e) {
  return e.last?.createdTime || e.channel.createdTime || '';
}

function isNewer(message, than) {
  if (!than) return true;
  if (message.id === than.id) return true;
  return (message.createdTime || '') >= (than.createdTime || '') && message.id > than.id;
}
