// sendKeystrokes → onReceivedKeystrokes, onTypingStarted, onTypingStopped (on an
// empty draft, on a sent message, and after the typing timeout).
import { eq } from '../lib.mjs';
import { sleep } from '../lib.mjs';

export default {
  name: 'typing',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    const johnView = (await john.call('getChannel', channel.id)).channel;
    await jane.enterChat(channel);
    await john.enterChat(johnView);

    // A burst of keystrokes is debounced: the last draft arrives.
    for (const keys of ['h', 'he', 'hel', 'hell', 'hello']) {
      await jane.sendKeystrokes({ channel, keys });
    }
    const [ks] = await john.waitFor('onReceivedKeystrokes', (k) => k.keys === 'hello');
    eq(ks.username, jane.username, 'keystrokes user');
    await john.waitFor('onTypingStarted', (u) => u.name === jane.username);
    await john.expectNone('onTypingStarted', () => true, 300);

    // Sending a message stops typing.
    await jane.call('sendMessage', { channel, body: 'hello' });
    await john.waitFor('onTypingStopped', (u) => u.name === jane.username);

    // Silence stops typing (the harness server's typing timeout is 1.5 s).
    await jane.sendKeystrokes({ channel, keys: 'again' });
    await john.waitFor('onTypingStarted', (u) => u.name === jane.username);
    const t0 = Date.now();
    await john.waitFor('onTypingStopped', (u) => u.name === jane.username, 5000);
    if (Date.now() - t0 < 500) throw new Error('typing stopped before any timeout');

    // John's typing reaches jane, not john himself.
    await john.sendKeystrokes({ channel: johnView, keys: 'yo' });
    await jane.waitFor('onTypingStarted', (u) => u.name === john.username);
    await sleep(100);
    await john.expectNone('onTypingStarted', (u) => u.name === john.username, 200);
  },
};
