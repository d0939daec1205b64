// The official client in Node 20 (no global WebSocket): it falls back to SockJS
// (docs/protocol.md §2.3). Two users run the quick start against a live server.
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './lib.mjs';

const require = createRequire(import.meta.url);
if (typeof globalThis.WebSocket === 'function') {
  console.log('this Node has a global WebSocket; SockJS would not be used: skipping');
  process.exit(0);
}
const ChatKitty = require('chatkitty').default;
const here = dirname(fileURLToPath(import.meta.url));
const server = await startServer({ staticDir: join(here, 'out/page') });
const fail = async (m) => { console.log(`  FAIL  ${m}`); await server.stop(); process.exit(1); };
const withTimeout = (p, ms, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms))]);

try {
  const config = { apiKey: server.apiKey, host: server.host, isSecure: false };
  const jane = new ChatKitty(config);
  const john = new ChatKitty(config);
  const tag = Date.now().toString(36);
  const js = await withTimeout(jane.startSession({ username: `jane-${tag}` }), 10000, 'jane startSession');
  if (!js.succeeded) await fail(`jane startSession: ${JSON.stringify(js.error)}`);
  const jo = await withTimeout(john.startSession({ username: `john-${tag}` }), 10000, 'john startSession');
  if (!jo.succeeded) await fail(`john startSession: ${JSON.stringify(jo.error)}`);
  const created = await withTimeout(jane.createChannel({ type: 'DIRECT', members: [{ username: `john-${tag}` }] }), 10000, 'createChannel');
  if (!created.succeeded) await fail(`createChannel: ${JSON.stringify(created.error)}`);
  const received = new Promise((resolve) => {
    jane.startChatSession({ channel: created.channel, onReceivedMessage: (m) => resolve(m) });
  });
  await new Promise((r) => setTimeout(r, 500));
  const johnChannel = (await john.getChannel(created.channel.id)).channel;
  const sent = await withTimeout(john.sendMessage({ channel: johnChannel, body: 'over SockJS' }), 10000, 'sendMessage');
  if (!sent.succeeded) await fail(`sendMessage: ${JSON.stringify(sent.error)}`);
  const m = await withTimeout(received, 10000, 'onReceivedMessage');
  if (m.body !== 'over SockJS') await fail(`received ${JSON.stringify(m.body)}`);
  await withTimeout(Promise.all([jane.endSession(), john.endSession()]), 10000, 'endSession');
  console.log('  ok    official client over SockJS in Node: quick start');
} catch (e) {
  await fail(String(e));
}
await server.stop();
process.exit(0);
