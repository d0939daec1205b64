// Leak check: one page starts and ends a thousand chat sessions (every handler set;
// every other one ended before the server confirmed it), then checks that the server
// holds no leftover subscriptions (GET /metrics, chatkitty_subscriptions), that the
// page's event listeners (Chrome DevTools Protocol Performance.getMetrics,
// JSEventListeners) and the SDK's own tables are back where they started.
// Environment: LEAK_SESSIONS (default 1000), CHATKITTY_SERVER_BIN, CHROMIUM.
import { API_KEY, launchBrowser, openPage, serverControl, sleep, staticServer } from './lib.mjs';

const SESSIONS = Number(process.env.LEAK_SESSIONS || 1000);
// A thousand chat sessions are 16,000 topic SUBSCRIBE/UNSUBSCRIBEs in a minute: far
// over the per-connection pace a person needs (README, "Limits"), so the check raises it.
const server = await serverControl({ args: ['--subscribe-rate', '100000', '--subscribe-burst', '100000'] });
const site = await staticServer();
const browser = await launchBrowser();
let failed = false;
try {
  const p = await openPage(browser, site, 'leaky');
  const { page } = p;
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const page_ = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const get = (n) => metrics.find((m) => m.name === n).value;
    // The wasm module's linear memory (it grows, never shrinks: a Rust-side leak shows).
    const { result: proto } = await cdp.send('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype' });
    const { objects } = await cdp.send('Runtime.queryObjects', { prototypeObjectId: proto.objectId });
    const { result: bytes } = await cdp.send('Runtime.callFunctionOn', {
      objectId: objects.objectId, returnByValue: true,
      functionDeclaration: 'function () { return this.reduce((n, m) => n + m.buffer.byteLength, 0); }',
    });
    return { listeners: get('JSEventListeners'), heap: Math.round(get('JSHeapUsedSize') / 1024), wasm: bytes.value / 1024 };
  };
  await page.evaluate((a) => window.soak.start(a), { apiKey: API_KEY, host: server.host, username: `leaky-${Date.now().toString(36)}` });
  const channel = await page.evaluate(() => window.soak.createChannel(`leak-${Date.now().toString(36)}`));
  // Warm up (lazily created closures, caches), then take the baseline.
  await page.evaluate((c) => window.soak.churn(c, 20), channel);
  // Reads the server's subscriptions and the SDK's tables once they stop moving (the
  // last UNSUBSCRIBEs and relay answers are still on their way when a churn returns).
  const settle = async () => {
    let last = null;
    let stable = 0;
    for (let i = 0; i < 200 && stable < 5; i++) {
      await sleep(100);
      const now = { ...(await server.metrics()), tables: await page.evaluate(() => window.soak.tables()) };
      stable = last && now.subscriptions === last.subscriptions && now.tables === last.tables ? stable + 1 : 0;
      last = now;
    }
    return last;
  };
  const before = { ...(await settle()), ...(await page_()) };
  const t0 = Date.now();
  await page.evaluate(([c, n]) => window.soak.churn(c, n), [channel, SESSIONS]);
  const churned = Date.now() - t0;
  const after = { ...(await settle()), ...(await page_()) };
  const works = await page.evaluate((c) => window.soak.sendOne(c, 'still here'), channel);
  console.log(`
leak: ${SESSIONS} chat sessions started and ended in ${churned} ms (half before confirmation)
                               before   after
  server subscriptions      ${String(before.subscriptions).padStart(8)} ${String(after.subscriptions).padStart(7)}
  page JSEventListeners     ${String(before.listeners).padStart(8)} ${String(after.listeners).padStart(7)}
  SDK table entries         ${String(before.tables).padStart(8)} ${String(after.tables).padStart(7)}
  JS heap used (KB, info)   ${String(before.heap).padStart(8)} ${String(after.heap).padStart(7)}
  wasm memory (KB, info)    ${String(before.wasm).padStart(8)} ${String(after.wasm).padStart(7)}
  session still sends       ${works}`);
  const problems = [];
  if (after.subscriptions !== before.subscriptions) problems.push('server subscriptions did not come back');
  if (after.listeners > before.listeners) problems.push('event listeners grew');
  if (after.tables !== before.tables) problems.push("the SDK's tables did not come back");
  if (!works) problems.push('sendMessage failed after the churn');
  problems.push(...p.errors.slice(0, 10));
  if (problems.length) console.log(`problems:\n  ${problems.join('\n  ')}`);
  failed = problems.length > 0;
  console.log(failed ? 'leak: FAILED' : 'leak: OK');
} catch (e) {
  console.error(e);
  console.error(server.log.slice(-3000));
  failed = true;
} finally {
  await browser.close();
  await site.close();
  await server.stop();
}
process.exit(failed ? 1 : 0);
