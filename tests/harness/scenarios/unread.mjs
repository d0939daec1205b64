// Unread state through new messages, reads and clears; read receipts reach the sender.
import { assert, eq } from '../lib.mjs';

export default {
  name: 'unread',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    await jane.enterChat(channel);
    for (const body of ['one', 'two', 'three']) await jane.call('sendMessage', { channel, body });
    const johnView = (await john.call('getChannel', channel.id)).channel;

    eq((await john.call('getUnreadMessagesCount')).count, 3, 'total unread');
    eq((await john.call('getUnreadMessagesCount', { channel: johnView })).count, 3, 'channel unread');
    eq((await john.call('getChannelUnread', { channel: johnView })).unread, true, 'channel has unread');
    eq((await john.call('getUnreadChannelsCount')).count, 1, 'unread channels');
    eq((await john.call('getUnreadChannelsCount', { filter: { type: 'PUBLIC' } })).count, 0, 'no unread public channels');
    const unreadList = await john.call('getChannels', { filter: { unread: true } });
    eq(unreadList.paginator.items.map((c) => c.id), [channel.id], 'unread channel list');
    eq((await jane.call('getUnreadMessagesCount')).count, 0, "one's own messages are read");

    const read = await john.call('readChannel', { channel: johnView });
    assert(read.succeeded, `readChannel: ${JSON.stringify(read)}`);
    eq(read.channel.id, channel.id, 'readChannel returns the channel');
    const [msg, receipt] = await jane.waitFor('onMessageRead', (m, r) => r.user.name === john.username);
    eq(msg.body, 'three', 'receipt for the newest message');
    eq((await john.call('getUnreadMessagesCount')).count, 0, 'read');
    eq((await john.call('getChannelUnread', { channel: johnView })).unread, false, 'no unread');

    const last = await jane.call('getLastReadMessage', { channel, username: john.username });
    eq(last.message?.body, 'three', 'john last read');

    await jane.call('sendMessage', { channel, body: 'four' });
    eq((await john.call('getUnreadMessagesCount', { channel: johnView })).count, 1, 'new message unread');

    const cleared = await john.call('clearChannelHistory', { channel: johnView });
    assert(cleared.succeeded, `clearChannelHistory: ${JSON.stringify(cleared.error)}`);
    eq((await john.call('getUnreadMessagesCount')).count, 0, 'cleared');
    eq((await john.call('getMessages', { channel: johnView })).paginator.items.length, 0, 'john sees no history');
    eq((await jane.call('getMessages', { channel })).paginator.items.length, 4, 'jane keeps hers');
    assert(receipt.createdTime, 'receipt time');
  },
};
