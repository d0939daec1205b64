// updateChannel, deleteChannel, joinChannel, leaveChannel, inviteUser,
// addChannelModerator, getChannelMembers, and the observers that tell the other user.
import { assert, eq, unique } from '../lib.mjs';

export default {
  name: 'channel-admin',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    for (const o of ['onChannelJoined', 'onChannelLeft', 'onChannelUpdated']) await john.observe(o);

    // Public: john joins, sees updates, leaves.
    const pub = (await jane.call('createChannel', { type: 'PUBLIC', name: unique('pub') })).channel;
    const johnPub = (await john.call('getChannel', pub.id)).channel;
    assert(johnPub._actions.join && !johnPub._actions.leave, 'john may join, not leave');
    const joined = await john.call('joinChannel', { channel: johnPub });
    assert(joined.succeeded, `joinChannel: ${JSON.stringify(joined.error)}`);
    assert(joined.channel._actions.leave && !joined.channel._actions.join, 'now a member');
    await john.enterChat(joined.channel);

    const edited = { ...pub, properties: { topic: 'news' }, displayName: 'Public News' };
    const upd = await jane.call('updateChannel', { channel: edited });
    assert(upd.succeeded, `updateChannel: ${JSON.stringify(upd.error)}`);
    eq([upd.channel.properties.topic, upd.channel.displayName], ['news', 'Public News'], 'updated');
    await john.waitFor('onChannelUpdated', (c) => c.id === pub.id && c.properties.topic === 'news');

    // A non-moderator cannot update or delete.
    const denied = await john.call('updateChannel', { channel: { ...joined.channel, properties: { x: 1 } } });
    eq(denied.error?.error, 'ForbiddenError', 'non-moderator update');
    const denied2 = await john.call('deleteChannel', { channel: joined.channel });
    eq(denied2.error?.error, 'ForbiddenError', 'non-moderator delete');

    // Moderators: jane promotes john, who can then update.
    const johnUser = (await john.call('getCurrentUser')).user;
    const mod = await jane.call('addChannelModerator', { channel: pub, user: { id: johnUser.id } });
    assert(mod.succeeded, `addChannelModerator: ${JSON.stringify(mod.error)}`);
    const asMod = await john.call('updateChannel', { channel: { ...joined.channel, properties: { by: 'john' } } });
    assert(asMod.succeeded, `moderator update: ${JSON.stringify(asMod.error)}`);

    const members = await jane.call('getChannelMembers', { channel: pub });
    eq(members.paginator.items.map((u) => u.name).sort(), [jane.username, john.username].sort(), 'members');

    const left = await john.call('leaveChannel', { channel: joined.channel });
    assert(left.succeeded, `leaveChannel: ${JSON.stringify(left.error)}`);
    assert(left.channel._actions.join && !left.channel._actions.leave, 'no longer a member');

    // Private: not joinable; jane invites john, john is told.
    const priv = (await jane.call('createChannel', { type: 'PRIVATE', name: unique('priv') })).channel;
    const inv = await jane.call('inviteUser', { channel: priv, user: { username: john.username } });
    assert(inv.succeeded, `inviteUser: ${JSON.stringify(inv.error)}`);
    eq(inv.user.name, john.username, 'invited user');
    const [jc] = await john.waitFor('onChannelJoined', (c) => c.id === priv.id);
    eq(jc.type, 'PRIVATE', 'joined the private channel');
    const johnPriv = (await john.call('getChannel', priv.id)).channel;
    assert(!johnPriv._actions.join, 'private channels offer no join');
    const throwJoin = await john.call('joinChannel', { channel: { ...johnPriv, _actions: { ...johnPriv._actions, join: undefined } } });
    eq(throwJoin.thrown?.error, 'ChannelNotPubliclyJoinableError', 'client-side join refusal');

    // Delete: john is told he left.
    const del = await jane.call('deleteChannel', { channel: priv });
    assert(del.succeeded && !del.failed, `deleteChannel: ${JSON.stringify(del)}`);
    await john.waitFor('onChannelLeft', (c) => c.id === priv.id);
    const gone = await jane.call('getChannel', priv.id);
    eq(gone.error?.error, 'NotFoundError', 'deleted channel is gone');
  },
};
