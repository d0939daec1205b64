// File messages: a browser File uploaded with real progress; the other user downloads
// the same bytes through the grant-mapped URL; the size limit is enforced.
import { assert, eq } from '../lib.mjs';

export default {
  name: 'files',
  async run({ jane, john, kinds }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    const johnView = (await john.call('getChannel', channel.id)).channel;
    await john.enterChat(johnView);

    const size = 3 * 1024 * 1024;
    const r = await jane.page.evaluate(([c, s]) => window.harness.sendFile({ channel: c }, { size: s, name: 'big.bin', type: 'application/octet-stream' }), [channel, size]);
    assert(r.succeeded, `file upload: ${JSON.stringify(r).slice(0, 300)}`);
    eq([r.message.type, r.message.file.size, r.message.file.name], ['FILE', size, 'big.bin'], 'file message');
    assert(r.message.file.url.includes('grant='), 'the sender gets a grant-mapped URL');
    eq(r.progress[0], 'started', 'onStarted first');
    eq(r.progress.at(-1), 'completed:0', 'onCompleted(COMPLETED) last');
    const fractions = r.progress.filter((p) => typeof p === 'number');
    if (kinds[0] === 'ours') assert(fractions.length >= 3, `at least three progress callbacks (${fractions.length})`);
    assert(fractions.every((p, i) => p >= 0 && p <= 1 && (i === 0 || p >= fractions[i - 1])), `progress fractions ${fractions}`);

    const [m] = await john.waitFor('onReceivedMessage', (x) => x.id === r.message.id, 10000);
    assert(m.file.url.includes('grant='), 'the receiver gets a grant-mapped URL');
    const dl = await john.page.evaluate((u) => window.harness.download(u), m.file.url);
    eq([dl.status, dl.size, dl.pattern], [200, size, true], 'john downloads the same bytes');

    // External file properties go through the action.
    const ext = await jane.call('sendMessage', { channel, file: { url: 'https://example.com/cat.png', name: 'cat.png', contentType: 'image/png', size: 1234 } });
    assert(ext.succeeded, `external file: ${JSON.stringify(ext.error)}`);
    eq(ext.message.file.type, 'EXTERNAL', 'external file');

    // Over the server's limit (the harness server allows 8 MB): a failed result.
    const tooBig = await jane.page.evaluate((c) => window.harness.sendFile({ channel: c }, { size: 9 * 1024 * 1024, name: 'huge.bin', type: 'application/octet-stream' }), channel);
    assert(tooBig.failed, `too big must fail: ${JSON.stringify(tooBig).slice(0, 200)}`);
    eq(tooBig.progress.at(-1), 'completed:1', 'onCompleted(FAILED)');
  },
};
