// getChannels with its joined filters, name filter and paging (25 per page).
import { assert, eq, unique } from '../lib.mjs';

export default {
  name: 'get-channels',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const prefix = unique('room');
    const ids = [];
    for (let i = 0; i < 27; i++) {
      const r = await jane.call('createChannel', { type: 'PUBLIC', name: `${prefix}-${String(i).padStart(2, '0')}` });
      assert(r.succeeded, `create ${i}`);
      ids.push(r.channel.id);
    }
    const dm = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });

    // Jane: joined, filtered by name, two pages.
    const p1 = await jane.call('getChannels', { filter: { joined: true, name: prefix } });
    assert(p1.succeeded, `getChannels: ${JSON.stringify(p1).slice(0, 300)}`);
    eq(p1.paginator.items.length, 25, 'first page size');
    assert(p1.paginator.hasNextPage && !p1.paginator.hasPrevPage, 'first page links');
    eq(p1.paginator.items[0].id, ids[26], 'most recent first');
    const p2 = await jane.page_(p1.paginator.ref, 'next');
    eq(p2.paginator.items.map((c) => c.id), [ids[1], ids[0]], 'second page');
    assert(!p2.paginator.hasNextPage && p2.paginator.hasPrevPage, 'second page links');
    const back = await jane.page_(p2.paginator.ref, 'prev');
    eq(back.paginator.items.map((c) => c.id), p1.paginator.items.map((c) => c.id), 'back to the first page');
    const beyond = await jane.page_(p2.paginator.ref, 'next');
    eq(beyond.rejected?.error, 'PageOutOfBoundsError', 'no page after the last');

    // John: joined channels = the DM only; joinable = the public rooms.
    const joined = await john.call('getChannels', { filter: { joined: true } });
    eq(joined.paginator.items.map((c) => c.id), [dm.channel.id], 'john joined');
    const joinable = await john.call('getChannels', { filter: { joined: false, name: prefix } });
    eq(joinable.paginator.items.length, 25, 'john joinable first page');
    assert(joinable.paginator.items.every((c) => c.type === 'PUBLIC'), 'joinable are public');
    const all = await john.call('getChannels', { filter: { name: prefix } });
    assert(all.paginator.hasNextPage, 'visible channels page too');
    const none = await john.call('getChannels', { filter: { joined: true, name: prefix } });
    eq(none.paginator.items.length, 0, 'john joined none of the rooms');
    assert(!none.paginator.hasNextPage, 'empty page has no next');
  },
};
