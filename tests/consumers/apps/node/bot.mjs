// A Node script as a chat bot (ES module): the quick start, then exit.
import ChatKitty from 'chatkitty-wasm';
import { quickStart } from './quickstart.mjs';

const server = { apiKey: process.env.CK_API_KEY, host: process.env.CK_HOST };
const report = await quickStart(ChatKitty, server, { gc: globalThis.gc, chat: !globalThis.gc, progress: console.log });
console.log(`QUICKSTART ${JSON.stringify(report)}`);
// With `gc`, jane's client was left unreferenced on purpose: its session is still live.
process.exit(0);
