// blockUser, getUserBlockList, deleteUserBlockListItem and their effects.
import { assert, eq, unique } from '../lib.mjs';

export default {
  name: 'blocking',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const dm = (await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] })).channel;
    const group = (await jane.call('createChannel', { type: 'PUBLIC', name: unique('blk') })).channel;
    const johnGroup = (await john.call('joinChannel', { channel: (await john.call('getChannel', group.id)).channel })).channel;
    await john.enterChat(johnGroup);
    const janeUser = (await jane.call('getCurrentUser')).user;

    const blocked = await john.call('blockUser', { user: janeUser });
    assert(blocked.succeeded, `blockUser: ${JSON.stringify(blocked.error)}`);
    eq(blocked.user.name, jane.username, 'blocked user');
    const list = await john.call('getUserBlockList');
    eq(list.paginator.items.map((i) => i.user.name), [jane.username], 'block list');

    // Jane's messages no longer reach john; the direct channel refuses messages both ways.
    await jane.call('sendMessage', { channel: group, body: 'can you hear me?' });
    await john.expectNone('onReceivedMessage', (m) => m.body === 'can you hear me?', 600);
    const dmSend = await jane.call('sendMessage', { channel: dm, body: 'hello?' });
    eq(dmSend.error?.error, 'UserBlockedError', 'blocked direct channel refuses');
    const dmBack = await john.call('sendMessage', { channel: (await john.call('getChannel', dm.id)).channel, body: 'no' });
    eq(dmBack.error?.error, 'UserBlockedError', 'the blocker cannot write there either');
    const history = await john.call('getMessages', { channel: johnGroup });
    assert(!history.paginator.items.some((m) => m.user?.name === jane.username), 'history hides blocked messages');

    // Unblock: messages flow again.
    const item = list.paginator.items[0];
    const unblocked = await john.call('deleteUserBlockListItem', { item });
    assert(unblocked.succeeded, `deleteUserBlockListItem: ${JSON.stringify(unblocked.error)}`);
    eq(unblocked.user.name, jane.username, 'unblocked user');
    eq((await john.call('getUserBlockList')).paginator.items.length, 0, 'empty block list');
    await jane.call('sendMessage', { channel: group, body: 'better now' });
    await john.waitFor('onReceivedMessage', (m) => m.body === 'better now');
  },
};
