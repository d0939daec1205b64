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

export default [quickstart, groupChannels, getChannels, messagesPaging, typing, presence, sessionRestart, noSession, relayLeak];
