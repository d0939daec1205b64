// The quick start of the ChatKitty docs, with the official chatkitty@1.58.2 package.
import ChatKitty from 'chatkitty';

const params = new URLSearchParams(location.search);
const log = (line) => { document.getElementById('log').textContent += `${line}\n`; };
const kitty = new ChatKitty({ apiKey: params.get('key') || 'demo', host: location.host, isSecure: false });

const session = await kitty.startSession({ username: params.get('user') || 'jane' });
if (session.failed) log(`session failed: ${session.error.message}`);
const created = await kitty.createChannel({ type: 'DIRECT', members: [{ username: params.get('peer') || 'john' }] });
const channel = created.channel;
const chat = kitty.startChatSession({
  channel,
  onReceivedMessage: (message) => log(`${message.user.displayName}: ${message.body}`),
  onReceivedKeystrokes: (keystrokes) => log(`keys: ${keystrokes.keys}`),
  onTypingStarted: (user) => log(`${user.displayName} is typing`),
  onTypingStopped: (user) => log(`${user.displayName} stopped typing`),
  onParticipantEnteredChat: (user) => log(`${user.displayName} entered`),
  onParticipantLeftChat: (user) => log(`${user.displayName} left`),
  onParticipantPresenceChanged: (user) => log(`${user.displayName} is ${user.presence.online ? 'online' : 'offline'}`),
});
if (chat.succeeded) {
  const sent = await kitty.sendMessage({ channel, body: 'Hello, world!' });
  if (sent.succeeded) log('sent');
}
