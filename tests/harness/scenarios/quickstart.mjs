// The seed quick start with all seven handlers: each fires when it should, with the
// right user, and not otherwise (not for one's own typing, not twice).
import { assert, eq } from '../lib.mjs';

export default {
  name: 'quickstart',
  async run({ jane, john }) {
    const js = await jane.startSession();
    assert(js.succeeded && !js.failed && !js.cancelled, `jane startSession: ${JSON.stringify(js)}`);
    eq(js.session.user.name, jane.username, 'session.user.name');
    eq((await jane.currentUser())?.name, jane.username, 'currentUser set');
    const jo = await john.startSession();
    assert(jo.succeeded, `john startSession: ${JSON.stringify(jo)}`);

    const created = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    assert(created.succeeded, `createChannel: ${JSON.stringify(created)}`);
    const channel = created.channel;
    eq(channel.type, 'DIRECT', 'channel type');
    eq(channel.members.map((m) => m.name).sort(), [jane.username, john.username].sort(), 'members');

    const johnView = (await john.call('getChannel', channel.id)).channel;
    eq(johnView.id, channel.id, 'john sees the channel');

    await john.enterChat(johnView);
    await jane.enterChat(channel);
    const [entered] = await john.waitFor('onParticipantEnteredChat', (u) => u.name === jane.username);
    eq(entered.id, js.session.user.id, 'entered user id');
    await jane.expectNone('onParticipantEnteredChat', () => true, 300);

    const sent = await john.call('sendMessage', { channel: johnView, body: 'hi jane' });
    assert(sent.succeeded, `sendMessage: ${JSON.stringify(sent)}`);
    eq(sent.message.body, 'hi jane', 'sent body');
    const [msg] = await jane.waitFor('onReceivedMessage', (m) => m.id === sent.message.id);
    eq(msg.user.name, john.username, 'sender');
    eq(msg.body, 'hi jane', 'received body');
    await john.waitFor('onReceivedMessage', (m) => m.id === sent.message.id);
    await jane.expectNone('onReceivedMessage', (m) => m.id === sent.message.id, 300);

    await jane.sendKeystrokes({ channel, keys: 'hel' });
    const [ks] = await john.waitFor('onReceivedKeystrokes', (k) => k.username === jane.username);
    eq(ks.keys, 'hel', 'keystrokes');
    const [typing] = await john.waitFor('onTypingStarted');
    eq(typing.name, jane.username, 'typing user');
    await jane.expectNone('onTypingStarted', () => true, 200);
    await jane.expectNone('onReceivedKeystrokes', () => true, 0);
    await jane.sendKeystrokes({ channel, keys: '' });
    const [stopped] = await john.waitFor('onTypingStopped', (u) => u.name === jane.username, 5000);
    eq(stopped.id, js.session.user.id, 'stopped typing user');

    // John closes his tab: jane sees him leave the chat and go offline, once.
    await john.close();
    const [left] = await jane.waitFor('onParticipantLeftChat', (u) => u.name === john.username);
    eq(left.name, john.username, 'left user');
    const [presence] = await jane.waitFor('onParticipantPresenceChanged', (u) => u.name === john.username);
    eq(presence.presence.online, false, 'john offline');
    await jane.expectNone('onParticipantLeftChat', () => true, 300);
  },
};
