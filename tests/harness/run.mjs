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
const server = await startServer({ staticDir: join(here, 'out/page') });
const browser = await launchBrowser();

const results = [];
for (const [a, b] of pairings) {
  for (const scenario of scenarios) {
    if (only && !only.includes(scenario.name)) continue;
    const label = `${scenario.name} [jane=${a} john=${b}]`;
    const users = [];
    const open = async (kind, name) => {
      const u = await User.open(browser, server, kind, name);
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
await server.stop();
const failed = results.filter((r) => !r.ok);
console.log(`\ncompat harness: ${results.length - failed.length}/${results.length} passed across ${pairings.length} pairings`);
process.exit(failed.length ? 1 : 0);
