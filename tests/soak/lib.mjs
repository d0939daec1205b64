// What the soak and leak checks share: a chatkitty-server they can SIGKILL and restart
// on the same database file and port, a static server for the page and pkg/, and
// headless Chromium.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../..');
export const API_KEY = 'soak-key';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createNetServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/**
 * chatkitty-server on a fixed port and database (a SQLite file of its own, or the
 * `database` URL given), so it can be killed with SIGKILL and started again where it
 * was: `start()`, `kill()`, `metrics()`, `stop()`.
 */
export async function serverControl({ args = [], database = null } = {}) {
  const bin = process.env.CHATKITTY_SERVER_BIN || join(ROOT, 'target/debug/chatkitty-server');
  const dir = mkdtempSync(join(tmpdir(), 'chatkitty-soak-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let child = null;
  let log = '';
  const argv = [
    '--bind', '127.0.0.1', '--port', String(port), '--database', database || join(dir, 'chat.db'),
    '--api-key', API_KEY, '--files-dir', join(dir, 'files'), ...args,
  ];
  const ctl = {
    host, dir, starts: 0, kills: 0,
    get log() { return log; },
    async start() {
      for (let attempt = 0; ; attempt++) {
        const c = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' } });
        c.stderr.on('data', (d) => { log += d; if (process.env.SOAK_SERVER_LOG) process.stderr.write(d); });
        const up = await new Promise((res) => {
          let out = '';
          const timer = setTimeout(() => res(false), 30000);
          c.stdout.on('data', (d) => {
            out += d;
            if (/listening on http:\/\//.test(out)) { clearTimeout(timer); res(true); }
          });
          c.once('exit', () => { clearTimeout(timer); res(false); });
        });
        if (up) { child = c; ctl.starts += 1; return; }
        c.kill('SIGKILL');
        // The port may still be held for a moment after a kill.
        if (attempt >= 20) throw new Error(`server did not start on ${host}:\n${log.slice(-2000)}`);
        await sleep(250);
      }
    },
    /** SIGKILL: no close frames, no goodbye; sockets die with the process. */
    async kill() {
      if (!child) return;
      const c = child;
      child = null;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
      ctl.kills += 1;
    },
    async metrics() {
      const text = await (await fetch(`http://${host}/metrics`)).text();
      const get = (name) => Number(text.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1]);
      return { subscriptions: get('chatkitty_subscriptions'), connections: get('chatkitty_connections') };
    },
    async stop() {
      if (child) {
        const c = child;
        child = null;
        const gone = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([gone, sleep(10000)]);
        c.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await ctl.start();
  return ctl;
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

/** Serves tests/soak/page at / and the built package at /pkg/. */
export function staticServer() {
  const roots = [['/pkg/', join(ROOT, 'pkg')], ['/', join(here, 'page')]];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    for (const [prefix, dir] of roots) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, path.slice(prefix.length) || 'index.html'));
      if (!file.startsWith(dir)) break;
      try {
        if (!statSync(file).isFile()) break;
        res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
        res.end(readFileSync(file));
        return;
      } catch { break; }
    }
    res.writeHead(404).end('not found');
  });
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((r) => server.close(r)),
  })));
}

export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run',
];

export function launchBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** A page with our SDK loaded (window.soak, page/page.js), logging its errors; in a
 * browser context (profile) of its own, or in `context` (tabs of one profile). */
export async function openPage(browser, site, name, context = null) {
  context ??= await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket connection to .* failed/.test(m.text())) errors.push(m.text());
  });
  await page.goto(site.url);
  await page.waitForFunction(() => window.soakReady === true);
  return { name, page, context, errors };
}

/** A seeded PRNG (mulberry32), so a soak's schedule can be replayed with SOAK_SEED. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
