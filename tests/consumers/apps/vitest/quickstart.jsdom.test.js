// @vitest-environment jsdom
// The quick start inside a Vitest test, in Vitest's default (node) environment; the
// jsdom and happy-dom files run the same test in those environments.
import ChatKitty from 'chatkitty-wasm';
import { expect, test } from 'vitest';
import { HANDLERS, quickStart } from './quickstart.js';

test('the quick start fires every handler', { timeout: 120_000 }, async () => {
  const report = await quickStart(ChatKitty, { apiKey: process.env.CK_API_KEY, host: process.env.CK_HOST }, { chat: true, progress: console.log });
  for (const handler of HANDLERS) expect(report.fired[handler], handler).toBeGreaterThan(0);
  console.log(`QUICKSTART ${JSON.stringify(report)}`);
});
