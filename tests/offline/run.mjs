// The offline-first extensions (docs/api.md §17, §18) in real browsers against a live
// server: headless Chromium and Firefox (puppeteer-core) and WebKitGTK (webkit.mjs, over
// WebDriver); BROWSERS="chrome firefox webkit" picks. IndexedDB, SharedWorker, Web Locks
// and BroadcastChannel as the browsers have them. Each scenario checks with another user, in a browser context of
// its own, that the server holds the message exactly once.
//
//   node run.mjs   (needs pkg/ built by scripts/build-pkg.sh and the server built;
//                   CHATKITTY_SERVER_BIN overrides where the server binary is)
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { launchWebKit } from './webkit.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '../..');
const KEY = 'offline-test';
const log = (s) => console.log(`\x1b[1;34m[offline]\x1b[0m ${s}`);

function serverBin() {
  if (process.env.CHATKITTY_SERVER_BIN) return process.env.CHATKITTY_SERVER_BIN;
  return join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'debug/chatkitty-server');
}

async function startServer(staticDir, dir) {
  const child = spawn(serverBin(), [
    '--port', '0', '--database', join(dir, 'chat.db'), '--api-key', KEY, '--static-dir', staticDir,
    '--presence-grace-ms', '0', '--files-dir', join(dir, 'files'),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const host = await new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/(\S+)/);
      if (m) ok(m[1]);
    });
    child.once('exit', (c) => fail(new Error(`server exited (${c}): ${err}`)));
  });
  return { host, stop: () => child.kill('SIGTERM') };
}

function launch(browser) {
  if (browser === 'webkit') return launchWebKit();
  if (browser === 'firefox') {
    return puppeteer.launch({ browser: 'firefox', executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr', headless: true, timeout: 180000 });
  }
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 180000,
  });
}

function assert(cond, what) {
  if (!cond) throw new Error(what);
}
const count = (bodies, b) => bodies.filter((x) => x === b).length;
/** Polls `f` until `ok(value)` (5 s at most); returns the last value. */
async function until(f, ok) {
  let v;
  for (let i = 0; i < 50; i++) {
    if (ok((v = await f()))) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  return v;
}
const bench = [];

/** The server's open WebSocket connections (its /metrics). */
async function connections(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(text.match(/^chatkitty_connections (\d+)/m)?.[1]);
}

async function open(context, url) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.ready);
  return page;
}

async function reload(page) {
  await page.reload();
  await page.waitForFunction(() => window.ready);
}

async function run(browserName, base) {
  const browser = await launch(browserName);
  const version = await browser.version();
  const results = [];
  const scenario = async (name, f) => {
    const t0 = Date.now();
    try {
      await f();
      results.push(`ok   ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      results.push(`FAIL ${name}: ${e.message}`);
    }
    const last = results.at(-1);
    log(`${browserName}: ${last.startsWith('FAIL') ? last : last.slice(0, 120)}`);
  };
  try {
    const run = `${browserName}-${Date.now()}`;
    const jane = `jane-${run}`, john = `john-${run}`, room = `room-${run}`;
    const url = `${base}/?key=${KEY}`;
    // jane's tab (the default context: one browser profile); john checks from another.
    const page = await open(browser.defaultBrowserContext(), url);
    const other = await open(await browser.createBrowserContext(), url);
    await page.evaluate((u) => t.start(u), jane);
    const channel = await page.evaluate((n) => t.channel(n), room);
    await other.evaluate((u) => t.start(u, false), john);
    const seen = () => other.evaluate((c) => t.bodies(c), channel);
    await other.evaluate((n) => t.join(n), room);

    await scenario('online: a send through the outbox resolves with the stored message, outbox empty after', async () => {
      await page.evaluate((c) => t.send(c, 'hello'), channel);
      const r = await page.evaluate(() => t.result());
      assert(r.succeeded && r.body === 'hello', `result ${JSON.stringify(r)}`);
      assert((await page.evaluate(() => t.drained())).length === 0, 'outbox not empty');
      assert(count(await seen(), 'hello') === 1, 'not stored once');
    });

    await scenario('offline in this page: "pending" reported, the promise resolves once the connection is back, stored once', async () => {
      await page.evaluate(() => t.offline());
      await page.evaluate((c) => t.send(c, 'while offline'), channel);
      assert((await page.evaluate(() => t.outbox())).includes('while offline:sending') ||
        (await page.evaluate(() => t.outbox())).includes('while offline:pending'), 'not in the outbox');
      await new Promise((r) => setTimeout(r, 500));
      assert(count(await seen(), 'while offline') === 0, 'sent while offline?');
      await page.evaluate(() => t.online());
      const r = await page.evaluate(() => t.result());
      assert(r.succeeded, `result ${JSON.stringify(r)}`);
      assert(count(await seen(), 'while offline') === 1, 'not stored once');
    });

    await scenario('sent offline, page reloaded: another user of the profile neither sees nor sends it; its user\'s next page sends it once', async () => {
      await page.evaluate(() => t.offline());
      await page.evaluate((c) => t.send(c, 'survivor'), channel);
      await reload(page);
      // Another user signs in in this profile first: the entry is not theirs.
      await page.evaluate((u) => t.start(u), `mallory-${run}`);
      assert((await page.evaluate(() => t.outbox())).length === 0, "another user's outbox shows jane's entry");
      await new Promise((r) => setTimeout(r, 800));
      assert(count(await seen(), 'survivor') === 0, "sent in another user's session");
      await page.evaluate(() => t.end());
      await page.evaluate((u) => t.start(u), jane);
      const left = await page.evaluate(() => t.drained());
      assert(left.length === 0, `outbox holds ${left}`);
      assert(count(await seen(), 'survivor') === 1, 'not stored exactly once');
    });

    await scenario('page killed between the write and the send: the next page sends it, stored once', async () => {
      await page.evaluate(() => { t.net.dropSends = true; });
      await page.evaluate((c) => t.send(c, 'cut before send'), channel);
      await reload(page);
      await page.evaluate((u) => t.start(u), jane);
      assert((await page.evaluate(() => t.drained())).length === 0, 'outbox not drained');
      assert(count(await seen(), 'cut before send') === 1, 'not stored exactly once');
    });

    await scenario('page killed after the send, before the answer: sent again with the same key, stored once', async () => {
      await page.evaluate(() => { t.net.deafAfterSend = true; });
      await page.evaluate((c) => t.send(c, 'answer lost'), channel);
      // The server has it; the page never heard back.
      for (let i = 0; i < 50 && count(await seen(), 'answer lost') === 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert(count(await seen(), 'answer lost') === 1, 'the first send did not arrive');
      assert((await page.evaluate(() => t.outbox())).length === 1, 'the entry is gone without an answer');
      await reload(page);
      await page.evaluate((u) => t.start(u), jane);
      assert((await page.evaluate(() => t.drained())).length === 0, 'outbox not drained');
      assert(count(await seen(), 'answer lost') === 1, 'stored twice');
    });

    await scenario('marking read offline: kept in the outbox across a reload, carried out by the next page', async () => {
      await other.evaluate((c) => window.kitty.sendMessage({ channel: c, body: 'unread one' }), channel);
      const unread = () => page.evaluate((c) => window.kitty.getChannelUnread({ channel: c }).then((r) => r.unread), channel);
      assert((await until(unread, (u) => u === true)) === true, 'the channel is not unread');
      await page.evaluate(() => t.offline());
      await page.evaluate((c) => { window.kitty.readChannel({ channel: c }); }, channel);
      const ops = await until(() => page.evaluate(() => window.kitty.getOutbox().then((l) => l.map((e) => `${e.op}:${e.state}`))), (l) => l.length > 0);
      assert(ops.join() === 'readChannel:pending' || ops.join() === 'readChannel:sending', `outbox ${ops}`);
      await reload(page);
      await page.evaluate((u) => t.start(u), jane);
      assert((await page.evaluate(() => t.drained())).length === 0, 'outbox not drained');
      assert((await until(unread, (u) => u === false)) === false, 'still unread after the next page sent the read');
    });

    await scenario('cache: live messages kept, a reload reads it before any session (its user only), history readable offline, gap recovery adds the missed message once', async () => {
      await page.evaluate((c) => t.openRoom(c), channel);
      await other.evaluate((c) => window.kitty.sendMessage({ channel: c, body: 'live one' }), channel);
      assert((await page.evaluate(() => t.waitLive('live one'))) === 1, 'live message not received');
      // Written (the cache's writes are not waited for by the calls).
      await until(() => page.evaluate((u, id) => t.readCache(u, id), jane, channel.id), (c) => c.bodies?.[0] === 'live one');
      await reload(page);
      const cached = await page.evaluate((u, id) => t.readCache(u, id), jane, channel.id);
      assert(cached.user === null || cached.user === jane, `user ${cached.user}`);
      assert(cached.channels.includes(room), `channels ${cached.channels}`);
      assert(cached.bodies && cached.bodies[0] === 'live one' && cached.bodies.includes('hello'), `bodies ${cached.bodies}`);
      assert(cached.last[cached.channels.indexOf(room)] === 'live one', `last ${cached.last}`);
      const mallorys = await page.evaluate((u, id) => t.readCache(u, id), `mallory-${run}`, channel.id);
      assert(mallorys.channels.length === 0 && mallorys.bodies === null, "another user reads jane's cache");
      await page.evaluate((u) => t.start(u), jane);
      await page.evaluate((c) => t.openRoom(c), channel);
      await page.evaluate(() => t.offline());
      const offline = await page.evaluate((c) => t.reads(c), channel);
      assert(offline.cached && offline.channelsCached, 'offline reads not from the cache');
      assert(offline.bodies[0] === 'live one' && count(offline.bodies, 'live one') === 1, `offline bodies ${offline.bodies}`);
      await other.evaluate((c) => window.kitty.sendMessage({ channel: c, body: 'during the gap' }), channel);
      await page.evaluate(() => t.online());
      const n = await page.evaluate(() => t.waitLive('during the gap'));
      assert(n === 1, `gap recovery delivered it ${n} times (${await page.evaluate(() => t.live)})`);
      const after = await until(() => page.evaluate((u, id) => t.readCache(u, id), jane, channel.id), (c) => c.bodies?.[0] === 'during the gap');
      assert(after.bodies[0] === 'during the gap' && count(after.bodies, 'during the gap') === 1, `after ${after.bodies}`);
      const fresh = await page.evaluate((c) => t.reads(c), channel);
      assert(!fresh.cached && !fresh.channelsCached, 'online reads answered from the cache');
    });

    await scenario('cache: reload to first render, cache against network', async () => {
      const times = [];
      for (let i = 0; i < 5; i++) {
        await reload(page);
        const r = await page.evaluate((u, c) => t.firstRender(u, c), jane, channel);
        assert(r.ok && r.fresh, `first render ${JSON.stringify(r)}`);
        times.push(r);
      }
      const med = (k) => times.map((x) => x[k]).sort((a, b) => a - b)[2].toFixed(0);
      bench.push(`${browserName}: reload to first render, median of 5: cache ${med('fromCache')} ms, network ${med('fromNetwork')} ms (from navigation start)`);
    });

    await scenario('cache: a profile keeps the caches of the 5 users signed in most recently (pages closed without endSession)', async () => {
      const users = Array.from({ length: 7 }, (_, i) => `many-${i}-${run}`);
      for (const u of users) {
        await reload(page);
        await page.evaluate((u) => t.start(u), u);
        await page.evaluate(() => window.kitty.getCurrentUser());
        await until(() => page.evaluate((u) => t.readCache(u, 0), u), (c) => c.user === u);
      }
      await reload(page);
      const kept = [];
      for (const u of users) if ((await page.evaluate((u) => t.readCache(u, 0), u)).user) kept.push(u);
      assert(kept.join() === users.slice(2).join(), `kept ${kept}`);
      await page.evaluate((u) => t.start(u), jane);
    });

    await scenario('cache: clearCache and endSession clear it', async () => {
      await page.evaluate(() => t.clearCache());
      assert((await page.evaluate((u, id) => t.readCache(u, id), jane, channel.id)).channels.length === 0, 'clearCache left it');
      await page.evaluate((c) => t.openRoom(c), channel);
      const again = await until(() => page.evaluate((u, id) => t.readCache(u, id), jane, channel.id), (c) => c.channels.length > 0);
      assert(again.channels.length > 0, 'not cached again');
      await page.evaluate(() => t.end());
      const c = await until(() => page.evaluate((u, id) => t.readCache(u, id), jane, channel.id), (x) => x.channels.length === 0);
      assert(c.channels.length === 0 && c.bodies === null, 'endSession left it');
    });

    await scenario('shareConnection: 5 tabs of one user starting at once hold 1 connection; each tab gets each message once; closing the first tab (mid-send) loses nothing; a second person has their own; one tab ending its session leaves the others; all gone, no connection', async () => {
      const ctx = await browser.createBrowserContext();
      const before = await connections(base);
      const tabs = [];
      for (let i = 0; i < 5; i++) tabs.push(await open(ctx, `${url}&tab=${i}`));
      const ann = `ann-${run}`;
      // All at once, as a restored browser window does: one of them starts the session,
      // the others wait for it and share it.
      for (const r of await Promise.all(tabs.map((tab) => tab.evaluate((u) => t.startShared(u), ann)))) {
        // Each tab hears its session come online once, as without sharing.
        assert(r.user === ann && r.current === ann && r.online === 1, `session ${JSON.stringify(r)}`);
      }
      const shared = await tabs[0].evaluate((n) => t.channel(n), `shared-${run}`);
      await other.evaluate((n) => t.join(n), `shared-${run}`);
      for (const tab of tabs) await tab.evaluate((c) => t.openRoom(c), shared);
      await new Promise((r) => setTimeout(r, 500));
      const held = await connections(base);
      assert(held === before + 1, `${held - before} connections for 5 tabs`);
      await other.evaluate((c) => window.kitty.sendMessage({ channel: c, body: 'to every tab' }), shared);
      for (const tab of tabs) assert((await tab.evaluate(() => t.waitLive('to every tab'))) === 1, 'a tab did not get it once');
      // An upload's progress and a chat session's thread work across the worker.
      const up = await tabs[2].evaluate((c) => t.upload(c), shared);
      assert(up.ok && up.type === 'FILE' && up.calls[0] === 'started' && up.calls.at(-1) === 'completed:0' && up.calls.includes(1), `upload ${JSON.stringify(up)}`);
      const thread = await tabs[3].evaluate((c) => t.followThread(c, 'sub'), shared);
      await other.evaluate((th) => window.kitty.sendMessage({ thread: th, body: 'in the thread' }), thread);
      for (let i = 0; i < 50 && !(await tabs[3].evaluate(() => t.threadLive.length)); i++) await new Promise((r) => setTimeout(r, 100));
      assert((await tabs[3].evaluate(() => t.threadLive.join())) === 'in the thread', 'setThread across the worker');
      // The first tab sends and is closed at once, before any answer.
      await tabs[0].evaluate((c) => { window.kitty.sendMessage({ channel: c, body: 'sent as the tab closed' }); }, shared);
      await tabs[0].close();
      await other.evaluate((c) => window.kitty.sendMessage({ channel: c, body: 'after the first tab went' }), shared);
      for (const tab of tabs.slice(1)) {
        assert((await tab.evaluate(() => t.waitLive('after the first tab went'))) === 1, 'a tab missed a message after the close');
        assert((await tab.evaluate(() => t.waitLive('sent as the tab closed'))) === 1, 'the closing tab\'s send did not reach the others once');
      }
      const seenShared = await other.evaluate((c) => t.bodies(c), shared);
      assert(count(seenShared, 'sent as the tab closed') === 1, 'the closing tab\'s send is not stored once');
      assert((await connections(base)) === before + 1, 'the connection did not stay');
      const u = await tabs[1].evaluate(() => window.kitty.getCurrentUser().then((r) => r.user?.name));
      assert(u === ann, `getCurrentUser in a remaining tab: ${u}`);
      // A second person in the same profile: a connection of their own, their own user.
      const bob = await open(ctx, `${url}&tab=bob`);
      const b = await bob.evaluate((u) => t.startShared(u), `bob-${run}`);
      assert(b.user === `bob-${run}` && b.current === `bob-${run}`, `bob's session ${JSON.stringify(b)}`);
      assert((await connections(base)) === before + 2, 'two people in one profile need two connections');
      // One tab ends its session: the others keep theirs.
      await tabs[1].evaluate(() => t.end());
      assert((await tabs[1].evaluate(() => window.kitty.currentUser ?? null)) === null, 'currentUser after endSession');
      await other.evaluate((c) => window.kitty.sendMessage({ channel: c, body: 'after one tab ended' }), shared);
      for (const tab of tabs.slice(2)) assert((await tab.evaluate(() => t.waitLive('after one tab ended'))) === 1, 'a tab missed a message after another ended');
      assert((await tabs[1].evaluate(() => t.live.includes('after one tab ended'))) === false, 'the ended tab still hears its chat session');
      // Every tab goes: the connections close.
      await ctx.close();
      for (let i = 0; i < 50 && (await connections(base)) !== before; i++) await new Promise((r) => setTimeout(r, 100));
      assert((await connections(base)) === before, 'connections left after every tab closed');
    });

    await scenario('shareConnection without SharedWorker: 5 tabs hold 1 connection through the tab holding the Web Lock; closing that tab twice hands it over: a follower\'s send in flight stored once and answered, messages sent during the handover reach every tab once, calls work after', async () => {
      const ctx = await browser.createBrowserContext();
      const before = await connections(base);
      const tabs = [];
      for (let i = 0; i < 5; i++) tabs.push(await open(ctx, `${url}&noshared=1&tab=${i}`));
      const cy = `cy-${run}`;
      for (const tab of tabs) {
        const r = await tab.evaluate((u) => t.startShared(u), cy);
        assert(r.user === cy && r.current === cy && !r.worker && r.online === 1, `session ${JSON.stringify(r)}`);
      }
      const room = await tabs[0].evaluate((n) => t.channel(n), `elected-${run}`);
      await other.evaluate((n) => t.join(n), `elected-${run}`);
      for (const tab of tabs) await tab.evaluate((c) => t.openRoom(c), room);
      await new Promise((r) => setTimeout(r, 500));
      assert((await connections(base)) === before + 1, `${(await connections(base)) - before} connections for 5 tabs`);
      await other.evaluate((c) => window.kitty.sendMessage({ channel: c, body: 'to every elected tab' }), room);
      for (const tab of tabs) assert((await tab.evaluate(() => t.waitLive('to every elected tab'))) === 1, 'a tab did not get it once');
      const up = await tabs[4].evaluate((c) => t.upload(c), room);
      assert(up.ok && up.calls[0] === 'started' && up.calls.at(-1) === 'completed:0', `upload from a follower ${JSON.stringify(up)}`);
      // The first tab holds the hub. A follower sends, and the hub's tab closes at once;
      // a message is sent while no tab holds the connection.
      for (const [k, hub] of [[1, tabs[0]], [2, tabs[1]]]) {
        const sender = tabs[k + 1];
        await sender.evaluate((c, b) => { window.inFlight = window.kitty.sendMessage({ channel: c, body: b }); }, room, `in flight ${k}`);
        await hub.close();
        await other.evaluate((c, b) => window.kitty.sendMessage({ channel: c, body: b }), room, `during handover ${k}`);
        const r = await sender.evaluate(() => window.inFlight.then((r) => ({ ok: r.succeeded, body: r.message?.body }), (e) => ({ error: e.name })));
        assert(r.ok && r.body === `in flight ${k}`, `the follower's send: ${JSON.stringify(r)}`);
        for (const tab of tabs.slice(k)) {
          for (const b of [`in flight ${k}`, `during handover ${k}`]) {
            const n = await tab.evaluate((b) => t.waitLive(b), b);
            assert(n === 1, `"${b}" reached a tab ${n} times after handover ${k}`);
          }
        }
        const stored = await other.evaluate((c) => t.bodies(c), room);
        assert(count(stored, `in flight ${k}`) === 1, `"in flight ${k}" stored ${count(stored, `in flight ${k}`)} times`);
        for (let i = 0; i < 50 && (await connections(base)) !== before + 1; i++) await new Promise((r) => setTimeout(r, 100));
        assert((await connections(base)) === before + 1, `${(await connections(base)) - before} connections after handover ${k}`);
      }
      const u = await tabs[4].evaluate(() => window.kitty.getCurrentUser().then((r) => r.user?.name));
      assert(u === cy, `getCurrentUser after the handovers: ${u}`);
      await other.evaluate((c) => window.kitty.sendMessage({ channel: c, body: 'after the handovers' }), room);
      for (const tab of tabs.slice(2)) assert((await tab.evaluate(() => t.waitLive('after the handovers'))) === 1, 'a tab missed a message after the handovers');
      await ctx.close();
      for (let i = 0; i < 50 && (await connections(base)) !== before; i++) await new Promise((r) => setTimeout(r, 100));
      assert((await connections(base)) === before, 'connections left after every tab closed');
    });

    await scenario('the default (offline off) client has no outbox', async () => {
      const e = await other.evaluate(() => window.kitty.getOutbox().then(() => 'resolved', (e) => e.name));
      assert(e === 'TypeError', `getOutbox without offline: ${e}`);
    });
  } finally {
    await browser.close();
  }
  return { version, results };
}

const dir = mkdtempSync(join(tmpdir(), 'kitty-offline-'));
const site = join(dir, 'site');
assert(existsSync(join(ROOT, 'pkg/offline.js')), 'pkg/ is not built (scripts/build-pkg.sh)');
cpSync(join(here, 'page'), site, { recursive: true });
cpSync(join(ROOT, 'pkg'), join(site, 'pkg'), { recursive: true });
const server = await startServer(site, dir);
let failed = false;
try {
  for (const b of (process.env.BROWSERS || 'chrome firefox webkit').split(/\s+/).filter(Boolean)) {
    const { version, results } = await run(b, `http://${server.host}`);
    log(`${b} (${version})`);
    for (const r of results) {
      console.log(`  ${r}`);
      if (r.startsWith('FAIL')) failed = true;
    }
  }
  for (const b of bench) log(b);
} finally {
  server.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
