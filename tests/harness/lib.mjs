// Driver side of the harness: a live server, headless Chromium, one page per user.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../..');

export const CHROMIUM_ARGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts chatkitty-server on a free port with a throwaway database. */
export async function startServer({ apiKey = 'harness-key', staticDir, args = [], database } = {}) {
  const bin = process.env.CHATKITTY_SERVER_BIN || join(ROOT, 'target/debug/chatkitty-server');
  const dir = mkdtempSync(join(tmpdir(), 'chatkitty-harness-'));
  const argv = [
    '--port', '0', '--database', database ?? join(dir, 'chat.db'), '--api-key', apiKey,
    '--presence-grace-ms', '0', '--typing-timeout-ms', '1500',
    '--files-dir', join(dir, 'files'), '--max-upload-bytes', String(8 * 1024 * 1024), ...args,
  ];
  if (staticDir) argv.push('--static-dir', staticDir);
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' } });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; if (process.env.HARNESS_SERVER_LOG) process.stderr.write(d); });
  const host = await new Promise((resolveHost, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/([^\s]+)/);
      if (m) { clearTimeout(timer); resolveHost(m[1]); }
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${stderr}`)));
  });
  return {
    host, apiKey, child,
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

export async function launchBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** One user in one tab, with either client behind the adapter. */
export class User {
  constructor(context, page, kind, username) {
    Object.assign(this, { context, page, kind, username, consumed: new Set(), consoleErrors: [] });
  }

  static async open(browser, server, kind, username) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const user = new User(context, page, kind, username);
    page.on('console', (m) => { if (m.type() === 'error') user.consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => user.consoleErrors.push(String(e)));
    await page.goto(`http://${server.host}/index.html`);
    await page.waitForFunction(() => window.harnessReady === true);
    await page.evaluate(([k, c]) => window.harness.init(k, c), [kind, { apiKey: server.apiKey, host: server.host, isSecure: false }]);
    return user;
  }

  call(method, ...args) {
    return this.page.evaluate(([m, a]) => window.harness.call(m, ...a), [method, args]);
  }

  startSession(extra = {}) {
    return this.call('startSession', { username: this.username, ...extra });
  }

  startChatSession(request, opts = {}) {
    return this.page.evaluate(([r, o]) => window.harness.startChatSession(r, o), [request, opts]);
  }

  /** startChatSession, then wait until its subscriptions are confirmed. */
  async enterChat(channel, opts = {}) {
    const r = await this.startChatSession({ channel }, opts);
    if (!r.succeeded) throw new Error(`${this.username}: startChatSession failed: ${JSON.stringify(r)}`);
    await this.page.evaluate((ref) => window.harness.awaitChatSession(ref), r.session.ref);
    return r.session.ref;
  }

  endChatSession(ref) {
    return this.page.evaluate((ref) => window.harness.endChatSession(ref), ref);
  }

  page_(ref, direction) {
    return this.page.evaluate(([r, d]) => window.harness.page(r, d), [ref, direction]);
  }

  observe(method) {
    return this.page.evaluate((m) => window.harness.observe(m), method);
  }

  sendKeystrokes(request) {
    return this.page.evaluate((r) => window.harness.sendKeystrokes(r), request);
  }

  currentUser() {
    return this.page.evaluate(() => window.harness.currentUser());
  }

  async log() {
    return this.page.evaluate(() => window.harness.log);
  }

  /** Waits for an unconsumed log entry of `handler` satisfying `match(args)`. */
  async waitFor(handler, match = () => true, timeout = 5000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const entries = await this.log();
      for (let i = 0; i < entries.length; i++) {
        if (this.consumed.has(i)) continue;
        const e = entries[i];
        if (e.handler === handler && match(...e.args)) {
          this.consumed.add(i);
          return e.args;
        }
      }
      if (Date.now() > deadline) {
        const seen = entries.filter((_, i) => !this.consumed.has(i)).map((e) => e.handler);
        throw new Error(`${this.username} (${this.kind}): no ${handler} within ${timeout} ms; unconsumed: [${seen.join(', ')}]`);
      }
      await sleep(25);
    }
  }

  /** Asserts that no unconsumed `handler` entry satisfying `match` appears within `ms`. */
  async expectNone(handler, match = () => true, ms = 600) {
    await sleep(ms);
    const entries = await this.log();
    const hit = entries.findIndex((e, i) => !this.consumed.has(i) && e.handler === handler && match(...e.args));
    if (hit >= 0) {
      throw new Error(`${this.username} (${this.kind}): unexpected ${handler}: ${JSON.stringify(entries[hit].args).slice(0, 300)}`);
    }
  }

  /** Marks every entry so far as seen. */
  async drain() {
    const entries = await this.log();
    entries.forEach((_, i) => this.consumed.add(i));
  }

  async close() {
    await this.context.close();
  }
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

export function eq(actual, expected, message) {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) throw new Error(`${message}: expected ${b}, got ${a}`);
}

let counter = 0;
export function unique(prefix) {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}
