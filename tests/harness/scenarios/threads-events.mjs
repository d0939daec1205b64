// Threads (create, list, post, read, look-ups) and custom events.
import { assert, eq } from '../lib.mjs';

export default {
  name: 'threads-events',
  async run({ jane, john, kinds }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    const johnView = (await john.call('getChannel', channel.id)).channel;
    await john.enterChat(johnView);

    const t = await jane.call('createThread', { channel, name: 'planning', properties: { sprint: 3 } });
    assert(t.succeeded, `createThread: ${JSON.stringify(t.error)}`);
    eq([t.thread.type, t.thread.name, t.thread.properties.sprint], ['STANDALONE', 'planning', 3], 'thread');
    const inThread = await jane.call('sendMessage', { thread: t.thread, body: 'in the thread' });
    assert(inThread.succeeded, `thread message: ${JSON.stringify(inThread.error)}`);
    eq((await jane.call('getThreadChannel', { thread: t.thread })).channel.id, channel.id, 'thread channel');
    const read = await jane.call('readThread', { thread: t.thread });
    assert(read.succeeded, `readThread: ${JSON.stringify(read)}`);

    const root = await jane.call('sendMessage', { channel, body: 'root' });
    await john.call('sendMessage', { message: root.message, body: 'answer' });
    const all = await jane.call('getThreads', { channel });
    eq(all.paginator.items.map((x) => x.type).sort(), ['MAIN', 'MESSAGE', 'STANDALONE'], 'all threads');
    const standalone = await jane.call('getThreads', { channel, filter: { standalone: true } });
    eq(standalone.paginator.items.map((x) => x.id), [t.thread.id], 'standalone only');
    const noMain = await jane.call('getThreads', { channel, filter: { includeMainThread: false } });
    assert(!noMain.paginator.items.some((x) => x.type === 'MAIN'), 'without the main thread');
    const msgThread = all.paginator.items.find((x) => x.type === 'MESSAGE');
    eq((await jane.call('getThreadMessage', { thread: msgThread })).message.id, root.message.id, 'thread message');

    // Custom events reach the other participant, not the sender.
    await jane.enterChat(channel);
    const ev = await jane.call('triggerEvent', { channel, type: 'poll.vote', properties: { option: 2 } });
    assert(ev.succeeded, `triggerEvent: ${JSON.stringify(ev)}`);
    const [event] = await john.waitFor('onEventTriggered', (e) => e.type === 'poll.vote');
    eq([event.user.name, event.properties.option], [jane.username, 2], 'event');
    await jane.expectNone('onEventTriggered', () => true, 300);
    assert(kinds.length === 2, 'pairing');
  },
};
