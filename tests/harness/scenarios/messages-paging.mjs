// getMessages: newest first, nextPage to older messages, prevPage back.
import { assert, eq } from '../lib.mjs';

export default {
  name: 'messages-paging',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    for (let i = 0; i < 30; i++) {
      const r = await jane.call('sendMessage', { channel, body: `m${i}` });
      assert(r.succeeded, `send ${i}`);
    }
    const johnView = (await john.call('getChannel', channel.id)).channel;
    const p1 = await john.call('getMessages', { channel: johnView });
    assert(p1.succeeded, `getMessages: ${JSON.stringify(p1).slice(0, 200)}`);
    eq(p1.paginator.items.map((m) => m.body), Array.from({ length: 25 }, (_, i) => `m${29 - i}`), 'newest first');
    assert(p1.paginator.hasNextPage && !p1.paginator.hasPrevPage, 'first page links');
    const p2 = await john.page_(p1.paginator.ref, 'next');
    eq(p2.paginator.items.map((m) => m.body), ['m4', 'm3', 'm2', 'm1', 'm0'], 'older page');
    assert(!p2.paginator.hasNextPage && p2.paginator.hasPrevPage, 'last page links');
    const p3 = await john.page_(p2.paginator.ref, 'prev');
    eq(p3.paginator.items.map((m) => m.body), p1.paginator.items.map((m) => m.body), 'back to newest');
    // Items are complete messages.
    const m = p1.paginator.items[0];
    eq([m.type, m.user.name, typeof m.createdTime, 'file' in m], ['TEXT', jane.username, 'string', false], 'message shape');
  },
};
