// The offline-first and shared-connection extensions (docs/api.md §17, §18), in headless
// Chromium and Firefox (puppeteer-core; Firefox over WebDriver BiDi):
//
// 1. Reload to first render. A page shows a channel list and one channel's messages,
//    reached through a TCP proxy that delays each chunk DELAY_MS (40) each way. Loads
//    alternate between the app with the cache (`offline: true`; `readCache` before any
//    session, §17.4, then the same reads from the network) and the app without it
//    (startSession, getChannels, getMessages). Each load is a reload of the same tab
//    (the URL's hash says which app), timed from the navigation's start to the render in
//    the DOM (offline-page/page.js). RELOADS (20) of each after 2 of each not counted.
// 2. Connections per user with N tabs (TABS: 1, 2, 5, 10) of one user in one browser
//    profile, shareConnection on and off: the server's open WebSocket connections
//    (`chatkitty_connections` on /metrics) with the tabs' sessions started, minus before.
// 3. What a page downloads, gzip -9 each file as served (the sums scripts/build-pkg.sh
//    prints): the default entry, with offline.js, with the shared connection's files.
//
// BROWSERS ("chromium firefox"), CHROMIUM, FIREFOX (executables).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { startServer, startProxy, writeResult, percentile, median, round, ROOT, BENCH_BROWSER, sleep } from './common.mjs';

const RELOADS = Number(process.env.RELOADS || 20);
const WARMUP = 2;
const DELAY = Number(process.env.DELAY_MS || 40);
const TABS = (process.env.TABS || '1,2,5,10').split(',').map(Number);
const BROWSERS = (process.env.BROWSERS || 'chromium firefox').split(/\s+/).filter(Boolean);
// What the page shows: the channel list and one channel's newest messages (the first
// page of each, as getChannels and getMessages answer them and the cache keeps them).
const CHANNELS = 10;
const MESSAGES = 40;
const PKG = join(ROOT, 'pkg');
const log = (s) => console.log(`\x1b[1;35m[offline]\x1b[0m ${s}`);

function launch(name) {
  if (name === 'firefox') {
    return puppeteer.launch({ browser: 'firefox', executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr', headless: true, timeout: 180000 });
  }
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, timeout: 180000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** The page's load is done: its figures, or the error it met. */
async function result(page) {
  await page.waitForFunction(() => window.result !== undefined, { timeout: 60000 });
  const r = await page.evaluate(() => window.result);
  if (r.error) throw new Error(`page: ${r.error}`);
  return r;
}

/** The server's open WebSocket connections (its /metrics). */
async function connections(host) {
  const text = await (await fetch(`http://${host}/metrics`)).text();
  return Number(text.match(/^chatkitty_connections (\d+)/m)?.[1]);
}

/** The count once it has not changed for a second (closed tabs' connections take a
 * moment to reach the server): the baseline of a step. */
async function settled(host) {
  let last = await connections(host);
  for (let same = 0, i = 0; same < 5 && i < 100; i++) {
    await sleep(200);
    const now = await connections(host);
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

const stats = (v) => ({
  n: v.length, median_ms: round(median(v), 1), p90_ms: round(percentile(v, 90), 1),
  min_ms: round(Math.min(...v), 1), max_ms: round(Math.max(...v), 1),
});

async function reloads(browser, name, server, proxy) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] ${e.message ?? e}`));
  // Every load fetches the page and its scripts through the proxy: what the browser's
  // HTTP cache would keep depends on headers and heuristics that differ between the two
  // browsers, and is not what is measured. The figures from the page script's start
  // leave the page's own load out altogether.
  await page.setCacheEnabled(false);
  const run = `${name}-${Date.now().toString(36)}`;
  const user = `reader-${run}`;
  // Set-up without delay, on the proxy's origin (the cache is per origin and host).
  proxy.delayMs = 0;
  await page.goto(`http://${proxy.host}/?key=${server.apiKey}`);
  await page.waitForFunction(() => window.ready === true);
  const channel = await page.evaluate((u, p, c, m) => window.bench.setup(u, p, c, m), user, run, CHANNELS, MESSAGES);
  proxy.delayMs = DELAY;
  const url = (mode) => `http://${proxy.host}/?key=${server.apiKey}#mode=${mode}&user=${user}&channel=${channel}`;
  const times = { cache: [], network: [], fresh: [], scriptStart: { cache: [], network: [] }, afterScript: { cache: [], network: [] } };
  // What a network load rendered: a cache load must render as much to be counted.
  let shown;
  for (let i = 0; i < WARMUP + RELOADS; i++) {
    // Alternated, and which goes first too, so drift on the shared machine hits both.
    for (const mode of i % 2 ? ['network', 'cache'] : ['cache', 'network']) {
      // The hash is set without a navigation; the reload then loads the page anew.
      await page.evaluate((u) => { location.replace(u); }, url(mode));
      await page.reload();
      const r = await result(page);
      if (mode === 'network') shown ??= r;
      // A render from an empty cache (the first load) is not the figure.
      const full = shown && r.channels === shown.channels && r.messages === shown.messages && r.messages > 0;
      if (i >= WARMUP && !full) throw new Error(`${mode} load ${i} rendered ${r.channels} channels, ${r.messages} messages`);
      if (i >= WARMUP) {
        times[mode].push(r.render);
        times.scriptStart[mode].push(r.scriptStart);
        times.afterScript[mode].push(r.render - r.scriptStart);
        if (mode === 'cache') times.fresh.push(r.fresh);
      }
      // The cache's writes after the refresh are not waited for by the calls.
      if (mode === 'cache') await sleep(300);
    }
  }
  await page.close();
  const out = {
    cache: stats(times.cache), network: stats(times.network),
    cache_page_fresh_from_network: stats(times.fresh),
    script_start: { cache: stats(times.scriptStart.cache), network: stats(times.scriptStart.network) },
    from_script_start: { cache: stats(times.afterScript.cache), network: stats(times.afterScript.network) },
    rendered: { channels: shown.channels, messages: shown.messages },
  };
  log(`${name}: reload to first render (${RELOADS} each, +${DELAY} ms each way): cache median ${out.cache.median_ms} / p90 ${out.cache.p90_ms} ms, network ${out.network.median_ms} / p90 ${out.network.p90_ms} ms`);
  log(`${name}:   from the page script's start: cache median ${out.from_script_start.cache.median_ms} / p90 ${out.from_script_start.cache.p90_ms} ms, network ${out.from_script_start.network.median_ms} / p90 ${out.from_script_start.network.p90_ms} ms`);
  log(`${name}:   page script started at ${out.script_start.cache.median_ms} (cache) / ${out.script_start.network.median_ms} ms (network); the cache page's network refresh done at ${out.cache_page_fresh_from_network.median_ms} ms`);
  return out;
}

async function tabs(browser, name, server) {
  const out = { share_off: {}, share_on: {} };
  for (const share of [false, true]) {
    for (const n of TABS) {
      const user = `tabs-${name}-${share ? 'on' : 'off'}-${n}-${Date.now().toString(36)}`;
      // One browser profile per step: its tabs share one SharedWorker, nobody else's.
      const context = await browser.createBrowserContext();
      const before = await settled(server.host);
      for (let i = 0; i < n; i++) {
        const page = await context.newPage();
        page.on('pageerror', (e) => console.error(`[${name}] ${e.message ?? e}`));
        await page.goto(`http://${server.host}/?key=${server.apiKey}&tab=${i}#mode=tab&share=${share ? 1 : 0}&user=${user}`);
        const r = await result(page);
        if (r.user !== user) throw new Error(`tab ${i}: session of ${r.user}`);
      }
      await sleep(500);
      const held = (await connections(server.host)) - before;
      out[share ? 'share_on' : 'share_off'][n] = held;
      log(`${name}: ${n} tab${n > 1 ? 's' : ''} of one user, shareConnection ${share ? 'on ' : 'off'}: ${held} connection${held === 1 ? '' : 's'}`);
      await context.close();
    }
  }
  return out;
}

/** gzip -9 of each file, as scripts/build-pkg.sh counts them (each file on its own). */
function sizes() {
  const gz = (f) => execFileSync('gzip', ['-9', '-c', join(PKG, f)], { maxBuffer: 1 << 26 }).length;
  const raw = (f) => statSync(join(PKG, f)).size;
  const sum = (fn, files) => files.reduce((t, f) => t + fn(f), 0);
  const entry = ['chatkitty_wasm_bg.wasm', 'chatkitty_wasm.js', 'loader.js', 'client.js', 'surface.js', 'index.js'];
  // offline: true loads offline.js (§17); shareConnection: true loads shared.js and
  // wire.js in the tab, and the worker script (its wasm and glue are the entry's own
  // files, fetched by the worker instead of the tab).
  const offline = ['offline.js'];
  const shareTab = ['shared.js', 'wire.js'];
  const worker = ['shared-worker.js'];
  const of = (files) => ({ raw: sum(raw, files), gzip: sum(gz, files) });
  const out = {
    default_entry: of(entry),
    offline_adds: of(offline),
    share_connection_tab_adds: of(shareTab),
    share_connection_worker_adds: of(worker),
    default_entry_offline: of([...entry, ...offline]),
    default_entry_share_connection: of([...entry, ...shareTab, ...worker]),
    default_entry_offline_share_connection: of([...entry, ...offline, ...shareTab, ...worker]),
  };
  for (const [k, v] of Object.entries(out)) log(`bundle: ${k.replaceAll('_', ' ')}: ${v.gzip} B gzip (${v.raw} raw)`);
  return out;
}

if (!existsSync(join(PKG, 'offline.js'))) throw new Error('pkg/ is not built (scripts/build-pkg.sh)');
const bundle = sizes();
const dir = mkdtempSync(join(tmpdir(), 'chatkitty-bench-offline-'));
cpSync(join(BENCH_BROWSER, 'offline-page'), dir, { recursive: true });
cpSync(PKG, join(dir, 'pkg'), { recursive: true });
const server = await startServer({ staticDir: dir });
const proxy = await startProxy(server.host, { delayMs: DELAY });
const figures = {
  proxy_delay_ms_each_way: DELAY, reloads: RELOADS, warmup_reloads: WARMUP,
  page: { channels: CHANNELS, messages: MESSAGES },
  server_build: /\/debug\//.test(process.env.CHATKITTY_SERVER_BIN || '') ? 'debug' : 'release',
  browsers: {}, reload_to_first_render: {}, connections_per_user: {}, bundle,
};
try {
  for (const name of BROWSERS) {
    const browser = await launch(name);
    try {
      figures.browsers[name] = await browser.version();
      log(`${name} (${figures.browsers[name]})`);
      figures.reload_to_first_render[name] = await reloads(browser, name, server, proxy);
      figures.connections_per_user[name] = await tabs(browser, name, server);
    } finally {
      await browser.close();
    }
  }
} finally {
  await proxy.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
writeResult('offline', figures);
