// Quirk 1 (docs/protocol.md §16): clients never UNSUBSCRIBE relays. A thousand relays must not
// leave a thousand subscriptions on the server (read from /metrics).
import { assert } from '../lib.mjs';

async function subscriptions(server) {
  const text = await (await fetch(`http://${server.host}/metrics`)).text();
  return Number(text.match(/^chatkitty_subscriptions (\d+)$/m)[1]);
}

// The count once the sessions' own topic SUBSCRIBEs (sent as startSession resolves,
// without waiting for their receipts) have all been handled.
async function settled(server) {
  let last = await subscriptions(server);
  for (let i = 0; i < 25; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await subscriptions(server);
    if (now === last) return now;
    last = now;
  }
  return last;
}

export default {
  name: 'relay-leak',
  async run({ jane, john, server }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    const before = await settled(server);
    const ok = await jane.page.evaluate(async (id) => {
      const k = window.harness.kitty;
      let n = 0;
      for (let i = 0; i < 1000; i += 50) {
        const batch = await Promise.all(Array.from({ length: 50 }, () => k.getChannel(id)));
        n += batch.filter((r) => r.succeeded).length;
      }
      return n;
    }, channel.id);
    assert(ok === 1000, `1000 relays answered (${ok})`);
    const after = await subscriptions(server);
    assert(after <= before, `subscriptions grew from ${before} to ${after}`);
  },
};
