// onNotificationReceived: messages outside an active chat session, mentions, replies;
// muted channels; hide and unhide.
import { assert, eq } from '../lib.mjs';

export default {
  name: 'notifications',
  async run({ jane, john, kinds }) {
    await jane.startSession();
    await john.startSession();
    for (const o of ['onNotificationReceived', 'onChannelHidden', 'onChannelUnhidden']) await john.observe(o);
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    const johnView = (await john.call('getChannel', channel.id)).channel;

    const sent = await jane.call('sendMessage', { channel, body: 'are you there?' });
    const [n] = await john.waitFor('onNotificationReceived', (x) => x.data.type === 'USER:SENT:MESSAGE');
    eq([n.data.message.id, n.data.recipient.name, n.muted, n.channel.id], [sent.message.id, john.username, false, channel.id], 'sent-message notification');
    assert(n.title && n.body === 'are you there?' && n.createdTime, 'title, body, time');

    // In a chat session: no sent-message notification, but a mention still notifies.
    const ref = await john.enterChat(johnView);
    await jane.call('sendMessage', { channel, body: 'inside' });
    await john.waitFor('onReceivedMessage', (m) => m.body === 'inside');
    await john.expectNone('onNotificationReceived', (x) => x.data.message.body === 'inside', 300);
    await jane.call('sendMessage', { channel, body: `hey <@${john.username}>!` });
    const [m] = await john.waitFor('onNotificationReceived', (x) => x.data.type === 'USER:MENTIONED:USER');
    eq(m.data.mentionedUser?.name, john.username, 'mentioned user');
    await john.endChatSession(ref);

    // A reply to john's message.
    const mine = await john.call('sendMessage', { channel: johnView, body: 'question' });
    await jane.call('sendMessage', { message: mine.message, body: 'answer' });
    const [r] = await john.waitFor('onNotificationReceived', (x) => x.data.type === 'USER:REPLIED_TO:MESSAGE');
    eq(r.data.parent?.id, mine.message.id, 'reply notification carries the parent');

    // Muted: still notified, flagged muted.
    const muted = await john.call('muteChannel', { channel: johnView });
    assert(muted.succeeded, `muteChannel: ${JSON.stringify(muted.error)}`);
    await jane.call('sendMessage', { channel, body: 'muted?' });
    const [mm] = await john.waitFor('onNotificationReceived', (x) => x.data.message.body === 'muted?');
    eq(mm.muted, true, 'muted notification');
    const unmuted = await john.call('unmuteChannel', { channel: johnView });
    assert(unmuted.succeeded, 'unmuteChannel');

    // Hide, then a new message unhides.
    const hidden = await john.call('hideChannel', { channel: johnView });
    assert(hidden.succeeded, `hideChannel: ${JSON.stringify(hidden.error)}`);
    await john.waitFor('onChannelHidden', (c) => c.id === channel.id);
    const list = await john.call('getChannels', { filter: { joined: true } });
    assert(!list.paginator.items.some((c) => c.id === channel.id), 'hidden from the joined list');
    await jane.call('sendMessage', { channel, body: 'come back' });
    await john.waitFor('onChannelUnhidden', (c) => c.id === channel.id);
    const again = await john.call('getChannels', { filter: { joined: true } });
    assert(again.paginator.items.some((c) => c.id === channel.id), 'visible again');
  },
};
