// Calls that need a session throw NoActiveSessionError synchronously without one.
import { eq } from '../lib.mjs';

const NAS = [
  ['getCurrentUser'],
  ['createChannel', { type: 'DIRECT', members: [{ username: 'x' }] }],
  ['getChannels'],
  ['getChannels', { filter: { joined: true } }],
  ['sendMessage', { channel: { id: 1, _actions: { message: '/x' } }, body: 'x' }],
  ['getMessages', { channel: { id: 1, _relays: { messages: '/x' } } }],
];

export default {
  name: 'no-session',
  async run({ jane, john }) {
    for (const [method, arg] of NAS) {
      const r = await jane.call(method, ...(arg === undefined ? [] : [arg]));
      eq(r.thrown?.error, 'NoActiveSessionError', `${method} without a session`);
      eq(r.thrown?.message, "You're not connected to ChatKitty.", `${method} message`);
    }
    const k = await jane.sendKeystrokes({ channel: { id: 1, _actions: { keystrokes: '/x' } }, keys: 'a' });
    eq(k.thrown?.error, 'NoActiveSessionError', 'sendKeystrokes without a session');
    // The current-user observers need no session.
    const changes = (await jane.log()).filter((e) => e.handler === 'onCurrentUserChanged');
    eq(changes[0]?.args[0] ?? null, null, 'onCurrentUserChanged called at once with null');
    await john.startSession();
  },
};
