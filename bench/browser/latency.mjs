// End-to-end latency: sendMessage in one browser client → onReceivedMessage in
// another, p50/p99, with 2, 100 and 1,000 clients connected and active: the two
// measuring browser clients (A sends, B receives, one DIRECT channel, same client
// kind on both ends) plus native load clients (chatkitty-bench active): channels of
// 10, every load client in a chat session and sending one message every 10 s.
// Each message body carries A's wall time (timeOrigin + now); B subtracts its own.
import { join } from 'node:path';
import { startServer, launchBrowser, startNative, writeResult, percentile, round, BENCH_BROWSER, sleep } from './common.mjs';

const TOTALS = (process.env.CLIENTS || '2,100,1000').split(',').map(Number);
const MESSAGES = Number(process.env.MESSAGES || 200);
const INTERVAL = Number(process.env.INTERVAL_MS || 50);
const RUNS = Number(process.env.RUNS || 2);
const KINDS = ['ours', 'official'];

const server = await startServer({ staticDir: join(BENCH_BROWSER, 'out/page') });
const browser = await launchBrowser();
const levels = [];
try {
  for (const total of TOTALS) {
    const loadClients = Math.max(0, total - 2);
    const load = loadClients > 0
      ? await startNative(['active', '--server', server.host, '--key', server.apiKey, '--clients', String(loadClients), '--group', '10', '--interval-ms', '10000'])
      : null;
    if (load) await sleep(2000);
    const lat = { ours: [], official: [] };
    for (let r = 0; r < RUNS; r++) {
      for (const kind of (r % 2 ? [...KINDS].reverse() : KINDS)) {
        const tag = `${kind}-${total}-${r}-${Date.now().toString(36)}`;
        const open = async () => {
          const context = await browser.newContext();
          const page = await context.newPage();
          page.on('pageerror', (e) => console.error(`[${kind}] ${e}`));
          await page.goto(`http://${server.host}/index.html`);
          await page.waitForFunction(() => window.benchReady === true);
          return { context, page };
        };
        const a = await open();
        const b = await open();
        const config = { apiKey: server.apiKey, host: server.host, isSecure: false };
        await b.page.evaluate(([k, c, u]) => window.bench.start(k, c, u), [kind, config, `b-${tag}`]);
        await a.page.evaluate(([k, c, u]) => window.bench.start(k, c, u), [kind, config, `a-${tag}`]);
        const cid = await a.page.evaluate((p) => window.bench.chat(p), `b-${tag}`);
        await b.page.evaluate((p) => window.bench.chat(p), `a-${tag}`);
        // Warm-up messages, then the measured ones.
        await a.page.evaluate(() => window.bench.sendStamped(10, 20, 'warm'));
        await b.page.evaluate(() => window.bench.waitReceived(10));
        await b.page.evaluate(() => window.bench.resetReceived());
        const failed = await a.page.evaluate(([n, i, t]) => window.bench.sendStamped(n, i, t), [MESSAGES, INTERVAL, tag]);
        await b.page.evaluate((n) => window.bench.waitReceived(n), MESSAGES);
        const got = await b.page.evaluate(() => window.bench.latencies());
        lat[kind].push(...got);
        console.log(`latency ${kind}, ${total} clients, run ${r + 1}/${RUNS}: channel ${cid}, p50 ${percentile(got, 50).toFixed(2)} ms, p99 ${percentile(got, 99).toFixed(2)} ms${failed ? ` (${failed} sends failed)` : ''}`);
        for (const p of [a, b]) {
          await p.page.evaluate(() => window.bench.end());
          await p.context.close();
        }
      }
    }
    let loadSummary = null;
    if (load) {
      const lines = await load.stop();
      try { loadSummary = JSON.parse(lines.filter((l) => l.startsWith('{')).pop()); } catch { loadSummary = null; }
    }
    const level = { clients: total, load_clients: loadClients, load: loadSummary, results: {} };
    for (const kind of KINDS) {
      level.results[kind] = {
        n: lat[kind].length,
        p50_ms: round(percentile(lat[kind], 50), 2),
        p99_ms: round(percentile(lat[kind], 99), 2),
        max_ms: round(Math.max(...lat[kind]), 2),
      };
    }
    levels.push(level);
  }
  console.log(`\nend-to-end latency (sendMessage → other client's onReceivedMessage), ${MESSAGES} × ${RUNS} messages every ${INTERVAL} ms:`);
  console.log('clients   ours p50/p99 ms      official p50/p99 ms');
  for (const l of levels) {
    console.log(`${String(l.clients).padStart(7)}   ${l.results.ours.p50_ms} / ${l.results.ours.p99_ms}`.padEnd(32) + `${l.results.official.p50_ms} / ${l.results.official.p99_ms}`);
  }
  writeResult('latency', { messages_per_run: MESSAGES, runs: RUNS, send_interval_ms: INTERVAL, load_group: 10, load_interval_ms: 10000, levels });
} finally {
  await browser.close();
  await server.stop();
}
