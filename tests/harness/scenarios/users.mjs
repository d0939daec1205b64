// getUsers (filters, paging), getUsersCount, getUser, getUserIsChannelMember.
import { assert, eq, unique } from '../lib.mjs';

export default {
  name: 'users',
  async run({ jane, john }) {
    const tag = unique('crew');
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'PUBLIC', name: tag });
    // 26 more users (created as members of a direct channel with guest sessions on).
    const names = Array.from({ length: 26 }, (_, i) => `${tag}-u${String(i).padStart(2, '0')}`);
    for (let i = 0; i < names.length; i += 9) {
      const r = await jane.call('createChannel', { type: 'DIRECT', members: names.slice(i, i + 9).map((username) => ({ username })) });
      assert(r.succeeded, `direct ${i}: ${JSON.stringify(r.error)}`);
    }
    const p1 = await john.call('getUsers', { filter: { name: tag } });
    assert(p1.succeeded, `getUsers: ${JSON.stringify(p1).slice(0, 200)}`);
    eq(p1.paginator.items.length, 25, 'first page of users');
    assert(p1.paginator.hasNextPage, 'next page');
    const p2 = await john.page_(p1.paginator.ref, 'next');
    eq(p2.paginator.items.length, 1, 'second page');
    const count = await john.call('getUsersCount', { filter: { name: tag } });
    eq(count.count, 26, 'getUsersCount');
    const online = await john.call('getUsers', { filter: { name: jane.username, online: true } });
    eq(online.paginator.items.map((u) => u.name), [jane.username], 'online filter');
    const offline = await john.call('getUsersCount', { filter: { name: tag, online: false } });
    eq(offline.count, 26, 'offline guests');

    const janeUser = (await jane.call('getCurrentUser')).user;
    const got = await john.call('getUser', janeUser.id);
    eq(got.user.name, jane.username, 'getUser');
    const member = await john.call('getUserIsChannelMember', { user: got.user, channel });
    eq(member.isMember, true, 'jane is a member');
    const johnUser = (await john.call('getCurrentUser')).user;
    const notMember = await jane.call('getUserIsChannelMember', { user: johnUser, channel });
    eq(notMember.isMember, false, 'john is not');
  },
};
