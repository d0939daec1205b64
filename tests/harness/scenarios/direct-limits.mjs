// DIRECT channels have up to ten members; the same member set is one channel.
import { assert, eq, unique } from '../lib.mjs';

export default {
  name: 'direct-limits',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const tag = unique('dm');
    const nine = [{ username: john.username }, ...Array.from({ length: 8 }, (_, i) => ({ username: `${tag}-${i}` }))];
    const ok = await jane.call('createChannel', { type: 'DIRECT', members: nine });
    assert(ok.succeeded, `ten members: ${JSON.stringify(ok.error)}`);
    eq(ok.channel.members.length, 10, 'ten members');
    const again = await john.call('createChannel', { type: 'DIRECT', members: [{ username: jane.username }, ...nine.slice(1)] });
    eq(again.channel.id, ok.channel.id, 'same set, same channel');
    const tooMany = await jane.call('createChannel', { type: 'DIRECT', members: [...nine, { username: `${tag}-x` }] });
    eq(tooMany.error?.error, 'ValidationError', 'eleven members refused');
  },
};
