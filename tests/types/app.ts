// Type-checked, never run: what an app writes against chatkitty-wasm.
import ChatKitty, {
  failed,
  succeeded,
  isFileMessage,
  ChatKittyUploadResult,
  type Channel,
  type Message,
  type ChatKittyPaginator,
  type CurrentUser,
  type Notification,
  type ChatKittyUploadProgressListener,
  type ChatKittyModerationError,
} from 'chatkitty-wasm';
import { init, initSync } from 'chatkitty-wasm';
import InlineChatKitty from 'chatkitty-wasm/inline';

// The seed quick-start, verbatim in spirit.
const kitty = ChatKitty.getInstance('YOUR_CHATKITTY_API_KEY');

async function quickStart(username: string): Promise<void> {
  const result = await kitty.startSession({ username });
  if (result.failed) {
    console.error(result.error.message);
    return;
  }
  const created = await kitty.createChannel({ type: 'DIRECT', members: [{ username: 'john' }] });
  if (!succeeded(created)) return;
  const channel: Channel = created.channel;
  const chat = kitty.startChatSession({
    channel,
    onReceivedMessage: (message: Message, parent?: Message) => console.log(message.body, parent?.id),
    onReceivedKeystrokes: (k) => console.log(k.keys),
    onTypingStarted: (user) => console.log(user.displayName),
    onTypingStopped: (user) => console.log(user.displayName),
    onParticipantEnteredChat: (user) => console.log(user.name),
    onParticipantLeftChat: (user) => console.log(user.name),
    onParticipantPresenceChanged: (user) => console.log(user.presence.online),
    onMessageRead: (message, receipt) => console.log(message.id, receipt.user.name),
    onMessageReactionAdded: (message, reaction) => console.log(message.id, reaction.emoji.character),
    onThreadReceivedMessage: (thread, message) => console.log(thread.id, message.id),
  });
  if (chat.succeeded) {
    const settled = await chat;
    if (settled.succeeded) settled.session.setThread({} as never);
    chat.session.end();
  }
}

async function more(channel: Channel, message: Message, file: File): Promise<void> {
  const page = await kitty.getMessages({ channel, filter: { mainThread: true } });
  if (page.succeeded) {
    const p: ChatKittyPaginator<Message> = page.paginator;
    if (p.hasNextPage) await p.nextPage();
    p.items.filter(isFileMessage).forEach((m) => console.log(m.file?.url));
  }
  const listener: ChatKittyUploadProgressListener = {
    onStarted: () => {},
    onProgress: (f) => console.log(f),
    onCompleted: (r) => console.log(r === ChatKittyUploadResult.COMPLETED),
  };
  const sent = await kitty.sendMessage({ channel, file, progressListener: listener });
  if (sent.succeeded) console.log(sent.message.file?.url);
  await kitty.sendMessage({ message, body: 'reply', groupTag: 'g' });
  const count = await kitty.getUnreadMessagesCount();
  if (count.succeeded) console.log(count.count + 1);
  const unread = await kitty.getChannelUnread({ channel });
  if (unread.succeeded) console.log(unread.unread === true);
  const channels = await kitty.listChannels({ filter: { joined: false, name: 'gen' } });
  if (channels.succeeded) console.log(channels.paginator.items.map((c) => c.name));
  const updated = await kitty.updateCurrentUser((user: CurrentUser) => {
    user.properties = { color: 'teal' };
    return user;
  });
  if (!failed(updated)) console.log(updated.user.displayName);
  await kitty.updateCurrentUserDisplayPicture({ file: { uri: 'data:image/png;base64,AA==', name: 'a.png' } });
  const reaction = await kitty.reactToMessage({ message, emoji: '+1' });
  if (reaction.succeeded) console.log(reaction.reaction.emoji.aliases);
  const member = await kitty.getUserIsChannelMember({ user: message.user!, channel });
  if (member.succeeded) console.log(member.isMember);
  const blocked = await kitty.getUserBlockList();
  if (blocked.succeeded) blocked.paginator.items.forEach((i) => kitty.deleteUserBlockListItem({ item: i }));
  const unsubscribe = kitty.onNotificationReceived((n: Notification) => console.log(n.data.type));
  kitty.onChannelJoined({ onNext: (c: Channel) => console.log(c.id) });
  unsubscribe();
  kitty.sendKeystrokes({ channel, keys: 'draft' });
  try {
    await kitty.getMessageParent({ message });
  } catch (e) {
    console.log((e as { error: string }).error);
  }
  const self = new ChatKitty({ apiKey: 'k', host: 'localhost:8080', isSecure: false });
  await self.endSession();
}

// Loading the module yourself, and the inline entry.
async function loading(): Promise<void> {
  await init();
  await init(new URL('/assets/chatkitty_wasm_bg.wasm', 'https://example.com'));
  await init(fetch('/chatkitty_wasm_bg.wasm'));
  initSync(new Uint8Array(0));
  const inline = new InlineChatKitty({ apiKey: 'k', WebSocket });
  await inline.startSession({ username: 'jane' });
}

// The offline outbox (docs/api.md §17).
async function offline(): Promise<void> {
  const kitty = new ChatKitty({ apiKey: 'k', offline: true });
  const off = kitty.onOutboxChanged((entries) => {
    for (const e of entries) {
      const label: string = e.state === 'failed' ? `failed: ${e.error?.message}` : e.state;
      void label;
      if (e.op === 'sendMessage' && 'body' in e.request) console.log(e.request.body);
    }
  });
  off();
  const entries = await kitty.getOutbox();
  if (entries[0]) await kitty.discardOutboxEntry(entries[0].key);
  const cached = await kitty.readCache({ username: 'jane' });
  const names: string[] = cached.channels.map((c) => c.name ?? '');
  const first = cached.channels[0];
  const recent = first ? cached.messages[String(first.id)] ?? [] : [];
  void names;
  void recent.length;
  if (cached.cachedTime) await kitty.clearCache();
}

void offline;

// Our extensions beyond 1.58.2: search (docs/api.md §8) and moderation (§16.1).
async function extensions(channel: Channel, message: Message): Promise<void> {
  const found = await kitty.searchMessages({ query: 'quarterly report', channel });
  if (found.succeeded) {
    const p: ChatKittyPaginator<Message> = found.paginator;
    p.items.forEach((m) => console.log(m.channelId, m.body));
    if (p.hasNextPage) await p.nextPage();
  }
  const flagged = await kitty.flagMessage({ message, reason: 'spam' });
  if (flagged.succeeded) console.log(flagged.message.id);
  const user = { username: 'john' };
  const banned = await kitty.banChannelMember({ channel, user, reason: 'spam', durationSeconds: 3600 });
  if (banned.succeeded) console.log(banned.channel.id);
  await kitty.unbanChannelMember({ channel, user });
  await kitty.muteChannelMember({ channel, user: message.user!, durationSeconds: 600 });
  await kitty.unmuteChannelMember({ channel, user });
  const slow = await kitty.setChannelSlowMode({ channel, seconds: 30 });
  if (slow.failed) console.log(slow.error.error, slow.error.message);
  const sent = await kitty.sendMessage({ channel, body: 'hello' });
  if (sent.failed) {
    const e = sent.error as ChatKittyModerationError;
    if (e.error === 'MutedError' || e.error === 'SlowModeError') console.log(e.message);
  }
}

// One connection for all tabs (docs/api.md §18): a write caught by a handover.
async function shared(channel: Channel): Promise<void> {
  const tabs = new ChatKitty({ apiKey: 'key', shareConnection: true, offline: true });
  const r = await tabs.reactToMessage({ message: {} as Message, emoji: ':+1:' });
  if (r.failed && r.error.error === 'ChatKittyConnectionError') console.log('check, then retry');
  void channel;
}

void quickStart;
void shared;
void more;
void extensions;
void loading;
