// The seed quick start with all seven handlers, observed from both sides.
import { assert, eq } from '../lib.mjs';

export default {
  name: 'quickstart',
  async run({ jane, john }) {
    const js = await jane.startSession();
    assert(js.succeeded && !js.failed && !js.cancelled, `jane startSession: ${JSON.stringify(js)}`);
    eq(js.session.user.name, jane.username, 'session.user.name');
    const jo = await john.startSession();
    assert(jo.succeeded, `john startSession: ${JSON.stringify(jo)}`);

    const created = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    assert(created.succeeded, `createChannel: ${JSON.stringify(created)}`);
    const channel = created.channel;
    eq(channel.type, 'DIRECT', 'channel type');

    const johnView = (await john.call('getChannel', channel.id)).channel;
    eq(johnView.id, channel.id, 'john sees the channel');

    await john.enterChat(johnView);
    await jane.enterChat(channel);
    const [entered] = await john.waitFor('onParticipantEnteredChat', (u) => u.name === jane.username);
    eq(entered.name, jane.username, 'entered user');
    await jane.expectNone('onParticipantEnteredChat', (u) => u.name === jane.username, 300);

    const sent = await john.call('sendMessage', { channel: johnView, body: 'hi jane' });
    assert(sent.succeeded, `sendMessage: ${JSON.stringify(sent)}`);
    const [msg] = await jane.waitFor('onReceivedMessage', (m) => m.body === 'hi jane');
    eq(msg.user.name, john.username, 'sender');
    await john.waitFor('onReceivedMessage', (m) => m.id === sent.message.id);

    await jane.sendKeystrokes({ channel, keys: 'hel' });
    const [ks] = await john.waitFor('onReceivedKeystrokes', (k) => k.username === jane.username);
    eq(ks.keys, 'hel', 'keystrokes');
    const [typing] = await john.waitFor('onTypingStarted');
    eq(typing.name, jane.username, 'typing user');
    await jane.expectNone('onTypingStarted', () => true, 200);
    await john.waitFor('onTypingStopped', (u) => u.name === jane.username, 5000);

    // John closes his tab: jane sees him leave the chat and go offline.
    await john.close();
    const [left] = await jane.waitFor('onParticipantLeftChat', (u) => u.name === john.username);
    eq(left.name, john.username, 'left user');
    const [presence] = await jane.waitFor('onParticipantPresenceChanged', (u) => u.name === john.username);
    eq(presence.presence.online, false, 'john offline');
  },
};
