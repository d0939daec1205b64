// Shared by the browser benchmarks: the server (release build), Chromium, a TCP proxy
// that can delay or hold traffic, statistics and the results files.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import net from 'node:net';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../..');
export const RESULTS = join(ROOT, 'bench/results');
export const BENCH_BIN = process.env.CHATKITTY_BENCH_BIN || join(ROOT, 'target/bench/release/chatkitty-bench');

export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Per-connection limits are raised: the benchmarks measure the server, not its
// abuse protection (each flag is also an environment variable).
const UNLIMITED = {
  CHATKITTY_SEND_RATE: '1000000', CHATKITTY_SEND_BURST: '1000000',
  CHATKITTY_RELAY_RATE: '1000000', CHATKITTY_RELAY_BURST: '1000000',
  CHATKITTY_MAX_CONNECTIONS_PER_USER: '1000',
  // Every simulated client connects from loopback.
  CHATKITTY_MAX_CONNECTIONS_PER_ADDRESS: '0',
};

/** Starts the release chatkitty-server on a free port with a throwaway database. */
export async function startServer({ apiKey = 'bench', args = [], staticDir } = {}) {
  const bin = process.env.CHATKITTY_SERVER_BIN || join(ROOT, 'target/release/chatkitty-server');
  const dir = mkdtempSync(join(tmpdir(), 'chatkitty-bench-'));
  const argv = ['--port', '0', '--database', join(dir, 'chat.db'), '--api-key', apiKey,
    '--presence-grace-ms', '0', '--files-dir', join(dir, 'files'),
    // The bench pages reach the server through proxies on other ports, which the pages'
    // default policy (connect-src 'self') refuses.
    '--page-csp', 'off', ...args];
  if (staticDir) argv.push('--static-dir', staticDir);
  const child = spawn(bin, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...UNLIMITED, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 100000) stderr = stderr.slice(-50000); });
  const host = await new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`server did not start: ${stderr}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/([^\s]+)/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on('exit', (code) => fail(new Error(`server exited (${code}): ${stderr}`)));
  });
  return {
    host, apiKey, child, pid: child.pid,
    get stderr() { return stderr; },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium; CHROMIUM_FLAGS (space-separated) adds flags, e.g.
 * `--js-flags=--no-wasm-dynamic-tiering` to see what V8's tiering costs. */
export function launchBrowser() {
  const extra = (process.env.CHROMIUM_FLAGS || '').split(' ').filter(Boolean);
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...extra] });
}

/** Runs the native load generator with `args`; resolves once it printed `READY`. */
export async function startNative(args) {
  const child = spawn(BENCH_BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const lines = [];
  const waiters = [];
  child.stdout.on('data', (d) => {
    out += d;
    let i;
    while ((i = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      lines.push(line);
      for (const w of [...waiters]) if (w.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.ok(line); }
    }
  });
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((r) => child.once('exit', r));
  const next = (re, timeout = 600000) => new Promise((ok, fail) => {
    const hit = lines.find((l) => re.test(l));
    if (hit) { lines.splice(lines.indexOf(hit), 1); ok(hit); return; }
    const timer = setTimeout(() => fail(new Error(`native: no ${re} within ${timeout} ms: ${err}`)), timeout);
    exited.then((code) => fail(new Error(`native exited (${code}) before ${re}: ${err}`)));
    waiters.push({ test: (l) => re.test(l), ok: (l) => { clearTimeout(timer); ok(l); } });
  });
  await next(/^READY/);
  return {
    child, next, lines,
    send(line) { child.stdin.write(`${line}\n`); },
    async stop() {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGTERM'), 5000);
      await exited;
      clearTimeout(t);
      return lines;
    },
  };
}

/**
 * A TCP proxy in front of `target` (host:port). `delayMs` delays every chunk in both
 * directions (order kept: equal timeouts fire in order). `hold()` keeps what the
 * server sends in memory until `release()` writes it all to the clients at once.
 */
export async function startProxy(target, { delayMs = 0 } = {}) {
  const [thost, tport] = target.split(':');
  const conns = new Set();
  const proxy = { delayMs, holding: false };
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(Number(tport), thost);
    upstream.setNoDelay(true);
    const c = { client, upstream, held: [] };
    conns.add(c);
    const pipe = (from, to, s2c) => from.on('data', (buf) => {
      const send = () => {
        if (s2c && proxy.holding) c.held.push(buf);
        else if (!to.destroyed) to.write(buf);
      };
      if (proxy.delayMs > 0) setTimeout(send, proxy.delayMs); else send();
    });
    pipe(client, upstream, false);
    pipe(upstream, client, true);
    const end = () => {
      const after = proxy.delayMs > 0 ? proxy.delayMs + 1 : 0;
      setTimeout(() => { client.destroy(); upstream.destroy(); conns.delete(c); }, after);
    };
    client.on('close', end); upstream.on('close', end);
    client.on('error', end); upstream.on('error', end);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  proxy.host = `127.0.0.1:${server.address().port}`;
  proxy.hold = () => { proxy.holding = true; };
  proxy.heldBytes = () => [...conns].reduce((n, c) => n + c.held.reduce((m, b) => m + b.length, 0), 0);
  proxy.release = () => {
    proxy.holding = false;
    for (const c of conns) {
      if (c.held.length) c.client.write(Buffer.concat(c.held));
      c.held = [];
    }
  };
  proxy.close = () => new Promise((r) => { for (const c of conns) { c.client.destroy(); c.upstream.destroy(); } server.close(r); });
  return proxy;
}

export function percentile(values, p) {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(Math.max(rank, 1), s.length) - 1];
}

export const median = (v) => percentile(v, 50);
export const round = (x, d = 2) => (x == null || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = (cpuinfo.match(/^model name\s*:\s*(.*)$/m) || [])[1] || '';
  const cores = (cpuinfo.match(/^processor\s*:/gm) || []).length;
  const memKb = Number((readFileSync('/proc/meminfo', 'utf8').match(/^MemTotal:\s+(\d+)/m) || [])[1] || 0);
  return { cpu: model.trim(), cores, memory_gib: Math.round((memKb / 1024 / 1024) * 10) / 10 };
}

export function commit() {
  if (process.env.BENCH_COMMIT) return process.env.BENCH_COMMIT;
  try {
    return execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function versions() {
  const v = (p) => { try { return JSON.parse(readFileSync(join(here, 'node_modules', p, 'package.json'), 'utf8')).version; } catch { return null; } };
  return { chromium: null, chatkitty: v('chatkitty'), 'chatkitty-wasm': v('chatkitty-wasm'), vite: v('vite'), node: process.version };
}

/** Writes bench/results/<name>.json with date, machine and commit. */
export function writeResult(name, figures) {
  mkdirSync(RESULTS, { recursive: true });
  const doc = {
    benchmark: name, date: new Date().toISOString(), machine: machine(), commit: commit(),
    // The machine is shared: its load (1, 5, 15 min) when the benchmark ended.
    load_average: loadavg().map((x) => Math.round(x * 100) / 100),
    ...figures,
  };
  const path = join(RESULTS, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote ${path.slice(ROOT.length + 1)}`);
}

/** Main-thread time from the DevTools protocol (seconds, cumulative). */
export async function cpuMetrics(cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  return { task: m.TaskDuration, script: m.ScriptDuration, heap: m.JSHeapUsedSize };
}

export { here as BENCH_BROWSER };
