// chatkitty-wasm: the JavaScript names of the ChatKitty class (docs/api.md), installed on
// a class with `_call(op, request)` and `_on(kind, observer)` (client.js's, or the
// wasm-bindgen class in the Rust tests). Each API call is a row of the core's table
// (src/core/ops.rs), which writes the tables below; install() gives each call and alias
// a method keeping the official arity (`Function.length`).
// ----- generated from src/core/ops.rs by `UPDATE_SURFACE=1 cargo test -p chatkitty-wasm --lib surface` -----
// The API calls, each at its op number; `*`: it needs a session (NAS, docs/api.md
// §2.3); `()`: it takes no argument.
const OPS = '*updateCurrentUser *updateCurrentUserDisplayPicture updateChannel deleteChannel *createChannel *getChannels getChannel *joinChannel *leaveChannel addChannelModerator *getUnreadChannelsCount *getChannelUnread *readChannel *muteChannel *unmuteChannel *clearChannelHistory hideChannel *sendMessage *getMessages *getUnreadMessagesCount *triggerEvent readMessage getLastReadMessage editMessage getMessageRepliesCount getMessageChannel getMessageParent createThread getThreads getThreadChannel getThreadMessage *readThread reactToMessage getReactions removeReaction deleteMessageForMe deleteMessage *getChannelMembers *getReadReceipts *getUsers *getUsersCount inviteUser getUser *getUserIsChannelMember blockUser *getUserBlockList() deleteUserBlockListItem *getCurrentUser() *searchMessages *flagMessage *banChannelMember *unbanChannelMember *muteChannelMember *unmuteChannelMember *setChannelSlowMode';
// Observers, numbered as in src/wasm/mod.rs (`Observed`) and core::UserEvent::ALL.
const OBSERVERS = 'onCurrentUserChanged onCurrentUserOnline onCurrentUserOffline onNotificationReceived onChannelJoined onChannelLeft onChannelUpdated onChannelHidden onChannelUnhidden onUserPresenceChanged onParticipantStartedTyping onParticipantStoppedTyping';
// The 2.x names of docs/api.md §12.1, as [alias, name].
const ALIASES = 'listChannels getChannels retrieveChannel getChannel countUnreadChannels getUnreadChannelsCount checkChannelUnread getChannelUnread listMessages getMessages countUnreadMessages getUnreadMessagesCount retrieveLastReadMessage getLastReadMessage countMessageReplies getMessageRepliesCount retrieveMessageChannel getMessageChannel retrieveMessageParent getMessageParent listThreads getThreads listThreadChannel getThreadChannel listThreadMessage getThreadMessage listReactions getReactions listChannelMembers getChannelMembers listReadReceipts getReadReceipts listUsers getUsers listUsersCount getUsersCount retrieveUser getUser checkUserIsChannelMember getUserIsChannelMember listUserBlockedRecords getUserBlockList deleteUserBlockedRecord deleteUserBlockListItem retrieveCurrentUser getCurrentUser';
// ----- end of generated code -----

// `{uri: 'data:…', name}` → File (docs/protocol.md §10.2).
const toFile = (f) => {
  const i = f.uri.indexOf(','), head = f.uri.slice(5, i), data = f.uri.slice(i + 1);
  const s = head.endsWith(';base64') ? atob(data) : decodeURIComponent(data);
  const bytes = new Uint8Array(s.length);
  for (let n = 0; n < s.length; n++) bytes[n] = s.charCodeAt(n);
  return new File([bytes], f.name, { type: head.split(';')[0] });
};

// Performs an upload the core asked for: multipart POST with the write grant, real
// progress from XMLHttpRequest (docs/api.md §2.6). `done(status, text)` is the core's
// verdict.
export const upload = (u, done) => {
  const l = u.listener, x = new XMLHttpRequest(), d = new FormData();
  d.append('file', u.file.uri ? toFile(u.file) : u.file);
  for (const k in u.fields) d.append(k, u.fields[k]);
  x.open('POST', u.url);
  x.setRequestHeader('Grant', u.grant);
  // Chromium throttles upload progress to one event per 50 ms, so a fast upload may
  // report once; the start (0) and the end of the request body (1) are reported too.
  const progress = (f) => l && l.onProgress(f);
  x.upload.onloadstart = () => progress(0);
  x.upload.onprogress = (e) => progress(e.loaded / e.total);
  x.upload.onload = () => progress(1);
  x.onload = x.onerror = () => {
    const ok = done(x.status, x.responseText);
    l && l.onCompleted(ok ? 0 : 1);
  };
  l && l.onStarted && l.onStarted();
  x.send(d);
};

/** Each call's op number, by name, filled by `install`. */
export const OP = {};
/** Which ops need a session (by op number), filled by `install`. */
export const NAS = [];

export function install(C) {
  const p = C.prototype;
  const def = (name, value) =>
    Object.defineProperty(p, name, { value, writable: true, configurable: true });
  OPS.split(' ').forEach((word, op) => {
    const name = word.replace(/\W/g, '');
    OP[name] = op;
    NAS[op] = word[0] === '*';
    def(name, word.endsWith(')') ? function () { return this._call(op); } : function (request) { return this._call(op, request); });
  });
  // The update function gets the live current user; the whole result is sent.
  def('updateCurrentUser', function (update) {
    const user = this.currentUser;
    return this._call(OP.updateCurrentUser, user && update(user));
  });
  OBSERVERS.split(' ').forEach((name, kind) => def(name, function (observer) { return this._on(kind, observer); }));
  const a = ALIASES.split(' ');
  for (let i = 0; i < a.length; i += 2) def(a[i], p[a[i + 1]]);
  return C;
}
