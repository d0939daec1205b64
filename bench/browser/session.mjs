// Session start: time from the startSession call to its resolved result in headless
// Chromium, ours vs official, against the same server. A fresh instance per session,
// endSession (timed too) and a pause (PAUSE_MS, 50) between. Rounds alternate the two
// clients (each in its own page) so drift on this shared machine hits both alike.
//
// Round trips after the socket opens: the same measurement through a TCP proxy that
// adds DELAY ms in each direction, minus the same through the proxy with no delay,
// divided by the round-trip time (2 × DELAY). The WebSocket upgrade itself is one
// round trip of that; the figure after the socket's `open` event excludes it.
import { join } from 'node:path';
import { startServer, launchBrowser, startProxy, writeResult, percentile, median, round, BENCH_BROWSER, sleep } from './common.mjs';

// 1,000 sessions per client in 10 rounds: the p99 is then the 10th-slowest session,
// not the 3rd-slowest of 200, which one stall of the shared machine or the browser
// moved by several ms from run to run (bench/README.md, "Session start").
const SESSIONS = Number(process.env.SESSIONS || 1000);
const ROUNDS = Number(process.env.ROUNDS || 10);
const DELAY = Number(process.env.DELAY_MS || 40);
const DELAYED_SESSIONS = Number(process.env.DELAYED_SESSIONS || 30);
// A pause after each endSession before the next timed startSession. Back to back
// (PAUSE_MS=0), the socket of either client took about 8 ms to open against about
// 3 ms after a pause: the next session waited on the previous one's closing, which a
// user starting one session does not (bench/README.md, "Packed frames").
const PAUSE = Number(process.env.PAUSE_MS ?? 50);
const KINDS = ['ours', 'official'];

const server = await startServer({ staticDir: join(BENCH_BROWSER, 'out/page') });
const browser = await launchBrowser();
const pages = {};
try {
  for (const kind of KINDS) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error(`[${kind}] ${e}`));
    await page.goto(`http://${server.host}/index.html`);
    await page.waitForFunction(() => window.benchReady === true);
    pages[kind] = page;
  }
  const run = async (kind, host, n, tag) => {
    const config = { apiKey: server.apiKey, host, isSecure: false };
    await pages[kind].evaluate((p) => { globalThis.PAUSE_MS = p; }, PAUSE);
    const usernames = Array.from({ length: 10 }, (_, i) => `sess-${kind}-${tag}-${i}`);
    // Warm-up: creates the users, compiles the code paths.
    await pages[kind].evaluate(([k, c, u]) => window.bench.sessions(k, c, 10, u), [kind, config, usernames]);
    return pages[kind].evaluate(([k, c, nn, u]) => window.bench.sessions(k, c, nn, u), [kind, config, n, usernames]);
  };

  // 1. Direct to the server.
  const direct = { ours: [], official: [] };
  const roundMedians = { ours: [], official: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const kind of (r % 2 ? [...KINDS].reverse() : KINDS)) {
      const got = await run(kind, server.host, Math.ceil(SESSIONS / ROUNDS), `d${r}`);
      direct[kind].push(...got);
      roundMedians[kind].push(round(median(got.map((x) => x.total)), 3));
      console.log(`session ${kind} round ${r + 1}/${ROUNDS}: median ${median(got.map((x) => x.total)).toFixed(2)} ms`);
    }
  }

  // 2. Through the proxy, without and with delay.
  const proxied = {};
  for (const delay of [0, DELAY]) {
    const proxy = await startProxy(server.host, { delayMs: delay });
    for (const kind of KINDS) {
      const got = await run(kind, proxy.host, DELAYED_SESSIONS, `p${delay}`);
      proxied[`${kind}_${delay}`] = got;
      console.log(`session ${kind} via proxy +${delay} ms each way: median ${median(got.map((x) => x.total)).toFixed(1)} ms`);
    }
    await proxy.close();
    await sleep(200);
  }

  const summary = (xs, key) => {
    const v = xs.map((x) => x[key]).filter((x) => x != null);
    return { n: v.length, median_ms: round(median(v), 3), p99_ms: round(percentile(v, 99), 3), min_ms: round(Math.min(...v), 3), max_ms: round(Math.max(...v), 3) };
  };
  const rtt = 2 * DELAY;
  const figures = { sessions_per_client: SESSIONS, rounds: ROUNDS, pause_after_end_ms: PAUSE, proxy_delay_ms_each_way: DELAY, delayed_sessions: DELAYED_SESSIONS, clients: {} };
  for (const kind of KINDS) {
    const d0 = proxied[`${kind}_0`];
    const d1 = proxied[`${kind}_${DELAY}`];
    const total = (median(d1.map((x) => x.total)) - median(d0.map((x) => x.total))) / rtt;
    const after = (median(d1.map((x) => x.afterOpen)) - median(d0.map((x) => x.afterOpen))) / rtt;
    // On a busy machine the fastest session is the better estimate of the floor the
    // round trips set.
    const min = (xs, k) => Math.min(...xs.map((x) => x[k]));
    const totalMin = (min(d1, 'total') - min(d0, 'total')) / rtt;
    const afterMin = (min(d1, 'afterOpen') - min(d0, 'afterOpen')) / rtt;
    figures.clients[kind] = {
      direct: summary(direct[kind], 'total'),
      direct_open: summary(direct[kind], 'open'),
      direct_after_open: summary(direct[kind], 'afterOpen'),
      direct_end_session: summary(direct[kind], 'end'),
      round_medians_ms: roundMedians[kind],
      proxy_no_delay: summary(d0, 'total'),
      proxy_delay: summary(d1, 'total'),
      proxy_no_delay_after_open: summary(d0, 'afterOpen'),
      proxy_delay_after_open: summary(d1, 'afterOpen'),
      round_trips_total: round(total, 2),
      round_trips_after_open: round(after, 2),
      round_trips_total_from_min: round(totalMin, 2),
      round_trips_after_open_from_min: round(afterMin, 2),
      samples_ms: direct[kind].map((x) => round(x.total, 3)),
      // Each sample's time to the socket's open event, in the same order.
      samples_open_ms: direct[kind].map((x) => (x.open == null ? null : round(x.open, 3))),
    };
  }
  figures.ours_over_official_median = round(figures.clients.ours.direct.median_ms / figures.clients.official.direct.median_ms, 3);
  console.log('\nsession start (startSession call → resolved), headless Chromium, same server:');
  console.log('client     median     p99   | round trips via proxy +%d ms/way (from medians; from minimums): total, after socket open', DELAY);
  for (const kind of KINDS) {
    const c = figures.clients[kind];
    console.log(`${kind.padEnd(9)} ${String(c.direct.median_ms).padStart(7)} ms ${String(c.direct.p99_ms).padStart(7)} ms | ${c.round_trips_total}, ${c.round_trips_after_open}; ${c.round_trips_total_from_min}, ${c.round_trips_after_open_from_min}`);
  }
  console.log(`ours / official (median): ${figures.ours_over_official_median}`);
  writeResult('session', figures);
} finally {
  await browser.close();
  await server.stop();
}
