// endSession, then startSession again on the same instance.
import { assert, eq } from '../lib.mjs';

export default {
  name: 'session-restart',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    const johnView = (await john.call('getChannel', channel.id)).channel;
    await john.enterChat(johnView);

    const again = await jane.call('startSession', { username: jane.username });
    eq(again.thrown?.error, 'SessionActiveError', 'startSession twice throws');

    const ended = await jane.call('endSession');
    assert(!ended.thrown && !ended.rejected, `endSession: ${JSON.stringify(ended)}`);
    eq(await jane.currentUser(), null, 'no current user after endSession');
    const changes = (await jane.log()).filter((e) => e.handler === 'onCurrentUserChanged').map((e) => e.args[0]?.name ?? null);
    eq(changes.at(-1), null, 'onCurrentUserChanged(null) after endSession');
    const nas = await jane.call('getCurrentUser');
    eq(nas.thrown?.error, 'NoActiveSessionError', 'no session after endSession');

    const restarted = await jane.call('startSession', { username: jane.username });
    assert(restarted.succeeded, `second startSession: ${JSON.stringify(restarted)}`);
    eq((await jane.currentUser()).name, jane.username, 'current user again');
    await jane.enterChat(channel);
    await john.waitFor('onParticipantEnteredChat', (u) => u.name === jane.username);
    const sent = await jane.call('sendMessage', { channel, body: 'back again' });
    assert(sent.succeeded, 'send after restart');
    await john.waitFor('onReceivedMessage', (m) => m.body === 'back again');
  },
};
