// Each scenario is independent: fresh users (and channels) per run.
import quickstart from './quickstart.mjs';
import groupChannels from './group-channels.mjs';
import getChannels from './get-channels.mjs';
import messagesPaging from './messages-paging.mjs';
import typing from './typing.mjs';
import presence from './presence.mjs';
import sessionRestart from './session-restart.mjs';
import noSession from './no-session.mjs';
import relayLeak from './relay-leak.mjs';
import currentUser from './current-user.mjs';
import users from './users.mjs';
import channelAdmin from './channel-admin.mjs';
import unread from './unread.mjs';
import notifications from './notifications.mjs';
import blocking from './blocking.mjs';
import typingObservers from './typing-observers.mjs';
import directLimits from './direct-limits.mjs';
import messages from './messages.mjs';
import mentions from './mentions.mjs';
import reactions from './reactions.mjs';
import threadsEvents from './threads-events.mjs';
import files from './files.mjs';

export default [
  // Issue 3: the quick start and the wire basics.
  quickstart, groupChannels, getChannels, messagesPaging, typing, presence, sessionRestart, noSession, relayLeak,
  // Issue 4: users, channels, membership, unread state, notifications, observers, blocking.
  currentUser, users, channelAdmin, unread, notifications, blocking, typingObservers, directLimits,
  // Issue 5: messages, mentions, reactions, receipts, threads, events, files.
  messages, mentions, reactions, threadsEvents, files,
];
