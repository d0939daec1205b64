// Presence: a user goes offline only when their last tab closes.
import { eq } from '../lib.mjs';

export default {
  name: 'presence',
  async run({ jane, john, open, kinds }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    await jane.enterChat(channel);
    // John opens a second tab, same username, same client.
    const johnTab2 = await open(kinds[1], 'john');
    johnTab2.username = john.username;
    await johnTab2.startSession();
    await jane.drain();

    await john.close();
    await jane.expectNone('onParticipantPresenceChanged', (u) => u.name === john.username, 800);

    await johnTab2.close();
    const [offline] = await jane.waitFor('onParticipantPresenceChanged', (u) => u.name === john.username);
    eq([offline.presence.online, offline.presence.status], [false, 'OFFLINE'], 'offline presence');

    // Back online in a new tab.
    const johnTab3 = await open(kinds[1], 'john');
    johnTab3.username = john.username;
    await johnTab3.startSession();
    const [online] = await jane.waitFor('onParticipantPresenceChanged', (u) => u.name === john.username);
    eq(online.presence.online, true, 'online again');
  },
};
