// Runs every scenario with every client pairing against one live server, in headless
// Chromium. Usage: node run.mjs [--only name,name] [--pairing official-ours,...]
import { build } from 'vite';
import { join } from 'node:path';
import { ROOT, startServer, launchBrowser, User } from './lib.mjs';
import scenarios from './scenarios/index.mjs';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1].split(',') : null;
};
const only = opt('only');
const PAIRINGS = [
  ['official', 'official'],
  ['ours', 'ours'],
  ['official', 'ours'],
];
const pairings = (opt('pairing') ?? PAIRINGS.map((p) => p.join('-'))).map((p) => p.split('-'));

const here = new URL('.', import.meta.url).pathname;
await build({ configFile: join(here, 'vite.config.js'), root: join(here, 'page'), logLevel: 'warn' });
// --cluster: two nodes on one PostgreSQL database linked by Redis (from
// scripts/with-postgres.sh and scripts/with-redis.sh); jane's tab talks to node A,
// john's to node B.
const cluster = args.includes('--cluster');
let servers;
if (cluster) {
  const database = process.env.CHATKITTY_TEST_POSTGRES;
  const redis = process.env.CHATKITTY_TEST_REDIS;
  if (!database || !redis) throw new Error('--cluster needs CHATKITTY_TEST_POSTGRES and CHATKITTY_TEST_REDIS');
  // Each node has its own public URL (and files folder), as behind no load balancer: a
  // page from one may fetch a file the other stored, so the pages' policy says so.
  const clusterArgs = ['--redis-url', redis, '--node-ttl-ms', '3000',
    '--page-csp', "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob: data: http://127.0.0.1:*; media-src 'self' blob: http://127.0.0.1:*; connect-src 'self' http://127.0.0.1:* ws://127.0.0.1:*"];
  servers = [
    await startServer({ staticDir: join(here, 'out/page'), database, args: clusterArgs }),
    await startServer({ staticDir: join(here, 'out/page'), database, args: clusterArgs }),
  ];
} else {
  servers = [await startServer({ staticDir: join(here, 'out/page') })];
}
const server = servers[0];
const nodeFor = (i) => servers[i % servers.length];
const browser = await launchBrowser();

const results = [];
for (const [a, b] of pairings) {
  for (const scenario of scenarios) {
    if (only && !only.includes(scenario.name)) continue;
    const label = `${scenario.name} [jane=${a} john=${b}]`;
    const users = [];
    const open = async (kind, name) => {
      const u = await User.open(browser, nodeFor(users.length), kind, name);
      users.push(u);
      return u;
    };
    const started = Date.now();
    try {
      const tag = Math.random().toString(36).slice(2, 8);
      const jane = await open(a, `jane-${tag}`);
      const john = await open(b, `john-${tag}`);
      await scenario.run({ jane, john, open: (kind, name) => open(kind, `${name}-${tag}`), kinds: [a, b], server, browser });
      results.push({ label, ok: true, ms: Date.now() - started });
      console.log(`  ok    ${label} (${Date.now() - started} ms)`);
    } catch (e) {
      results.push({ label, ok: false, ms: Date.now() - started, error: e });
      console.log(`  FAIL  ${label}\n        ${String(e?.stack ?? e).split('\n').slice(0, 4).join('\n        ')}`);
      for (const u of users) {
        if (u.consoleErrors.length) console.log(`        ${u.username} console: ${u.consoleErrors.slice(0, 5).join(' | ')}`);
      }
    } finally {
      for (const u of users) await u.close().catch(() => {});
    }
  }
}
await browser.close();
for (const s of servers) await s.stop();
const failed = results.filter((r) => !r.ok);
console.log(`\ncompat harness${cluster ? ' (two nodes)' : ''}: ${results.length - failed.length}/${results.length} passed across ${pairings.length} pairings`);
process.exit(failed.length ? 1 : 0);
