// SDK receive throughput: how fast one client in headless Chromium runs
// onReceivedMessage for a burst of N messages, ours vs official.
//
// The browser reaches the server through a TCP proxy. A native sender (chatkitty-bench
// burst) pushes N messages into the DIRECT channel the browser client has a chat
// session on while the proxy HOLDS everything the server sends to the browser; once
// every message is sent and the server's output has settled, the proxy releases it
// all at once. So the browser receives N messages as fast as loopback delivers them,
// and what is measured is the client, not the server's send rate.
//
// Figures per run: wall time from the release to the N-th callback, the rate between
// the first and the N-th callback, and main-thread busy time per message from the
// DevTools protocol (Performance.getMetrics TaskDuration and ScriptDuration deltas
// over the release → N-th callback window).
//
// PROFILE=1 also records a CPU profile of that window in each client's last run
// (bench/browser/out/throughput-<client>.cpuprofile, opens in Chromium's DevTools) and
// prints the functions with the most self time. Our module's functions have names only
// in a build that keeps the name section (scripts/build-pkg.sh removes it).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchBrowser, startProxy, startNative, writeResult, median, round, cpuMetrics, BENCH_BROWSER, sleep } from './common.mjs';

const N = Number(process.env.MESSAGES || 2000);
const RUNS = Number(process.env.RUNS || 3);
const KINDS = (process.env.CLIENTS || 'ours official').split(' ');
const PROFILE = Boolean(process.env.PROFILE);

/** The `top` call frames by self time in a DevTools CPU profile. */
function selfTimes(profile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dts = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const f = byId.get(profile.samples[i]).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
    self.set(key, (self.get(key) || 0) + (dts[i + 1] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, us]) => `${(us / 1000).toFixed(1).padStart(8)} ms ${(100 * us / total).toFixed(1).padStart(5)}%  ${k}`);
}

const server = await startServer({ staticDir: join(BENCH_BROWSER, 'out/page') });
const browser = await launchBrowser();
const proxy = await startProxy(server.host);
const [ip, port] = server.host.split(':');
const runs = { ours: [], official: [] };
try {
  for (let r = 0; r < RUNS; r++) {
    for (const kind of (r % 2 ? [...KINDS].reverse() : KINDS)) {
      const tag = `${kind}-${r}-${Date.now().toString(36)}`;
      const sender = await startNative(['burst', '--server', `${ip === 'localhost' ? '127.0.0.1' : ip}:${port}`, '--key', server.apiKey, '--user', `tx-${tag}`]);
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error(`[${kind}] ${e}`));
      await page.goto(`http://${server.host}/index.html`);
      await page.waitForFunction(() => window.benchReady === true);
      const cdp = await context.newCDPSession(page);
      await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
      const config = { apiKey: server.apiKey, host: proxy.host, isSecure: false };
      const cid = await page.evaluate(([k, c, u, p]) => window.bench.join(k, c, u, p), [kind, config, `rx-${tag}`, `tx-${tag}`]);
      const done = page.evaluate((n) => window.bench.waitReceived(n), N);
      proxy.hold();
      sender.send(`go ${cid} ${N}`);
      const sentLine = await sender.next(/^SENT/);
      // Let the server's writer flush the last frames into the proxy.
      let held = -1;
      while (held !== proxy.heldBytes()) { held = proxy.heldBytes(); await sleep(300); }
      const profiling = PROFILE && r === RUNS - 1;
      if (profiling) {
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
        await cdp.send('Profiler.start');
      }
      const m0 = await cpuMetrics(cdp);
      const tRelease = await page.evaluate(() => window.bench.now());
      proxy.release();
      const got = await done;
      const m1 = await cpuMetrics(cdp);
      if (profiling) {
        const { profile } = await cdp.send('Profiler.stop');
        const file = join(BENCH_BROWSER, `out/throughput-${kind}.cpuprofile`);
        writeFileSync(file, JSON.stringify(profile));
        console.log(`${kind}: CPU profile in ${file}; self time:\n${selfTimes(profile).join('\n')}`);
      }
      const wallMs = got.last - tRelease;
      const spread = got.last - got.first;
      const run = {
        messages: got.count,
        held_bytes: held,
        server_send_ms: Number(sentLine.split(' ')[2]),
        release_to_last_ms: round(wallMs, 2),
        first_to_last_ms: round(spread, 2),
        messages_per_s: round(N / (wallMs / 1000), 0),
        messages_per_s_first_to_last: round((N - 1) / (spread / 1000), 0),
        task_us_per_message: round(((m1.task - m0.task) * 1e6) / N, 2),
        script_us_per_message: round(((m1.script - m0.script) * 1e6) / N, 2),
      };
      runs[kind].push(run);
      console.log(`throughput ${kind} run ${r + 1}/${RUNS}: ${run.messages_per_s} msg/s (release → ${N}th callback ${run.release_to_last_ms} ms), main thread ${run.task_us_per_message} µs/msg (script ${run.script_us_per_message})`);
      await page.evaluate(() => window.bench.end());
      await context.close();
      await sender.stop();
    }
  }
  const figures = { messages_per_run: N, runs: RUNS, bytes_per_message_on_the_wire: round(runs.ours[0].held_bytes / N, 0), clients: {} };
  for (const kind of KINDS) {
    const rs = runs[kind];
    figures.clients[kind] = {
      median_messages_per_s: median(rs.map((x) => x.messages_per_s)),
      median_release_to_last_ms: median(rs.map((x) => x.release_to_last_ms)),
      median_task_us_per_message: median(rs.map((x) => x.task_us_per_message)),
      median_script_us_per_message: median(rs.map((x) => x.script_us_per_message)),
      runs: rs,
    };
  }
  console.log(`\nreceive throughput, ${N} messages released at once, median of ${RUNS} runs:`);
  for (const kind of KINDS) {
    const c = figures.clients[kind];
    console.log(`${kind.padEnd(9)} ${String(c.median_messages_per_s).padStart(8)} msg/s  main thread ${c.median_task_us_per_message} µs/msg, script ${c.median_script_us_per_message} µs/msg`);
  }
  writeResult('throughput', figures);
} finally {
  await browser.close();
  await proxy.close();
  await server.stop();
}
