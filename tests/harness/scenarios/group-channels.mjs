// PUBLIC and PRIVATE channel creation, and the duplicate-name error.
import { assert, eq, unique } from '../lib.mjs';

export default {
  name: 'group-channels',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const name = unique('general');
    const pub = await jane.call('createChannel', { type: 'PUBLIC', name, properties: { topic: 'all things' } });
    assert(pub.succeeded, `PUBLIC: ${JSON.stringify(pub)}`);
    eq([pub.channel.type, pub.channel.name, pub.channel.properties.topic], ['PUBLIC', name, 'all things'], 'public channel');

    const priv = await jane.call('createChannel', { type: 'PRIVATE', name: unique('secret') });
    assert(priv.succeeded, `PRIVATE: ${JSON.stringify(priv)}`);
    eq(priv.channel.type, 'PRIVATE', 'private type');

    for (const type of ['PUBLIC', 'PRIVATE']) {
      const dup = await john.call('createChannel', { type, name });
      assert(dup.failed && !dup.succeeded, `duplicate ${type} must fail: ${JSON.stringify(dup)}`);
      eq(dup.error.error, 'DuplicateChannelError', 'duplicate error name');
      assert(dup.error.message.includes(name), 'message names the channel');
      assert(typeof dup.error.timestamp === 'string', 'timestamp');
    }

    // John sees the public channel, not the private one.
    const seen = await john.call('getChannel', pub.channel.id);
    assert(seen.succeeded, 'john can see the public channel');
    const hidden = await john.call('getChannel', priv.channel.id);
    assert(hidden.failed, `john cannot see the private channel: ${JSON.stringify(hidden)}`);
    eq(hidden.error.error, 'NotAChannelMemberError', 'private channel error');
  },
};
