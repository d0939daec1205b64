// onParticipantStartedTyping / onParticipantStoppedTyping outside a chat session, and
// (our SDK) unsubscribe really stops delivery.
import { eq } from '../lib.mjs';

export default {
  name: 'typing-observers',
  async run({ jane, john, kinds }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    const started = await john.observe('onParticipantStartedTyping');
    await john.observe('onParticipantStoppedTyping');
    await jane.sendKeystrokes({ channel, keys: 'typing…' });
    const [u] = await john.waitFor('onParticipantStartedTyping');
    eq(u.name, jane.username, 'who is typing');
    await jane.sendKeystrokes({ channel, keys: '' });
    await john.waitFor('onParticipantStoppedTyping', (x) => x.name === jane.username);
    if (kinds[1] === 'ours') {
      // Unsubscribing works (the official 1.58.2 client's does not, docs/api.md §2.4).
      await john.page.evaluate((ref) => window.harness.unsubscribe(ref), started.ref);
      await jane.sendKeystrokes({ channel, keys: 'again' });
      await john.waitFor('onParticipantStoppedTyping', () => true, 4000).catch(() => {});
      await john.expectNone('onParticipantStartedTyping', () => true, 400);
    }
  },
};
