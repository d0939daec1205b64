// Messages: properties and group tags, replies (with the parent argument), edits,
// deletes (for everyone and for me), reads, and the message look-ups.
import { assert, eq } from '../lib.mjs';

export default {
  name: 'messages',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    const johnView = (await john.call('getChannel', channel.id)).channel;
    await jane.enterChat(channel);
    await john.enterChat(johnView);

    const sent = await jane.call('sendMessage', { channel, body: 'first', properties: { mood: 'happy' }, groupTag: 'g1' });
    assert(sent.succeeded, `sendMessage: ${JSON.stringify(sent.error)}`);
    eq([sent.message.properties.mood, sent.message.groupTag], ['happy', 'g1'], 'properties and groupTag');
    const [got] = await john.waitFor('onReceivedMessage', (m) => m.id === sent.message.id);
    eq(got.properties.mood, 'happy', 'received properties');

    // A reply: onReceivedMessage gets the parent as second argument.
    const reply = await john.call('sendMessage', { message: got, body: 'a reply' });
    assert(reply.succeeded, `reply: ${JSON.stringify(reply.error)}`);
    const [r, parent] = await jane.waitFor('onReceivedMessage', (m) => m.id === reply.message.id);
    eq(parent?.id, sent.message.id, 'parent argument');
    eq(r.body, 'a reply', 'reply body');
    eq((await jane.call('getMessageRepliesCount', { message: sent.message })).count, 1, 'replies count');
    const replies = await jane.call('getMessages', { message: sent.message });
    eq(replies.paginator.items.map((m) => m.body), ['a reply'], 'replies page');
    eq((await jane.call('getMessageParent', { message: r })).message.id, sent.message.id, 'getMessageParent');
    const notReply = await jane.call('getMessageParent', { message: sent.message });
    eq(notReply.rejected?.error, 'MessageNotAReplyError', 'not a reply rejects');
    eq((await jane.call('getMessageChannel', { message: r })).channel.id, channel.id, 'getMessageChannel');
    const main = await jane.call('getMessages', { channel, filter: { mainThread: true } });
    assert(!main.paginator.items.some((m) => m.id === reply.message.id), 'mainThread excludes replies');

    // Edit: the other side's onMessageUpdated.
    const edited = await jane.call('editMessage', { message: sent.message, body: 'first (edited)' });
    assert(edited.succeeded, `editMessage: ${JSON.stringify(edited.error)}`);
    eq(edited.message.body, 'first (edited)', 'edited body');
    const [upd] = await john.waitFor('onMessageUpdated', (m) => m.id === sent.message.id);
    eq(upd.body, 'first (edited)', 'john sees the edit');
    const notMine = await john.call('editMessage', { message: got, body: 'hijack' });
    eq(notMine.error?.error, 'ForbiddenError', "others' messages cannot be edited");

    // Delete for me: gone for jane only.
    const m2 = await jane.call('sendMessage', { channel, body: 'only for a moment' });
    const forMe = await jane.call('deleteMessageForMe', { message: m2.message });
    assert(forMe.succeeded, `deleteMessageForMe: ${JSON.stringify(forMe.error)}`);
    const janeSees = (await jane.call('getMessages', { channel })).paginator.items.map((m) => m.id);
    const johnSees = (await john.call('getMessages', { channel: johnView })).paginator.items.map((m) => m.id);
    assert(!janeSees.includes(m2.message.id) && johnSees.includes(m2.message.id), 'deleted for jane only');

    // Delete for everyone.
    const del = await jane.call('deleteMessage', { message: m2.message });
    assert(del.succeeded, `deleteMessage: ${JSON.stringify(del.error)}`);
    const [gone] = await john.waitFor('onMessageUpdated', (m) => m.id === m2.message.id);
    assert(gone.deletedTime && gone.body === '', 'deleted content erased');

    // Reads: john reads jane's message, jane sees the receipt.
    const read = await john.call('readMessage', { message: got });
    assert(read.succeeded, `readMessage: ${JSON.stringify(read)}`);
    await jane.waitFor('onMessageRead', (m, rc) => rc.user.name === john.username);
    const last = await jane.call('getLastReadMessage', { channel, username: john.username });
    assert(last.succeeded && last.message, `getLastReadMessage: ${JSON.stringify(last)}`);
    const receipts = await jane.call('getReadReceipts', { message: sent.message });
    eq(receipts.paginator.items.map((x) => x.user.name), [john.username], 'read receipts');
  },
};
