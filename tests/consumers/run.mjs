// The consumer matrix: the package installed from its `npm pack` tarball into apps made
// by each tool's own template (create-vite, create-next-app, create-webpack-app; a bare
// `npm init` where the tool has none), the seed's quick start pasted in, run against a
// live chatkitty-server, every handler checked. Browser rows run in headless Chromium
// (with `--js-flags=--expose-gc`: jane's client is left unreferenced and collected, see
// quickstart.js), Firefox (puppeteer-core, WebDriver BiDi) and WebKit (WebKitWebDriver).
//
// Generated apps and their npm installs are cached in .apps/ (git-ignored), one folder
// per template and versions: a warm run only installs the new tarball.
//
// Usage: node run.mjs [--only row,row] [--list]
// Env: CHATKITTY_SERVER_BIN (default target/debug/chatkitty-server), CONSUMERS_CACHE.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sh, start, waitHttp, freePort, serveStatic, startChatServer, xvfb, registryRetry } from './lib.mjs';
import { HANDLERS } from './quickstart.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '../..');
const CACHE = process.env.CONSUMERS_CACHE || join(here, '.apps');
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null;

const NPM_INSTALL = ['install', '--no-audit', '--no-fund', '--loglevel=error'];
const npm = (cwd, ...a) => sh('npm', a, { cwd });
const bin = (app, tool) => join(app, 'node_modules/.bin', tool);

// ----- the apps: how each is made (the cache key is this spec), what is pasted in ----

const APPS = {
  vite5: {
    // The oldest Vite major supported (5; its create-vite is 5.x).
    create: (dir) => [['npm', 'create', '--yes', 'vite@5.5.5', dir, '--', '--template', 'vanilla'], ['npm', ...NPM_INSTALL]],
    files: { 'browser/main.js': 'main.js', 'quickstart.js': 'quickstart.js' },
  },
  vite: {
    create: (dir) => [['npm', 'create', '--yes', 'vite@9.3.0', dir, '--', '--template', 'vanilla', '--no-interactive'], ['npm', ...NPM_INSTALL]],
    files: { 'browser/main.js': 'src/main.js', 'quickstart.js': 'src/quickstart.js' },
  },
  webpack: {
    create: (dir) => [['npx', '--yes', 'create-webpack-app@2.1.0', 'init', dir, '--force']],
    files: { 'browser/main.js': 'src/index.js', 'quickstart.js': 'src/quickstart.js' },
  },
  next: {
    create: (dir) => [['npx', '--yes', 'create-next-app@16.4.3', dir, '--yes', '--use-npm', '--disable-git']],
    // The template's layout loads Google Fonts at build time, which fails offline (CI):
    // the same layout without the fonts.
    files: { 'next/page.tsx': 'app/page.tsx', 'next/quick-start.tsx': 'app/quick-start.tsx', 'next/layout.tsx': 'app/layout.tsx', 'quickstart.js': 'app/quickstart.js' },
  },
  vitest: {
    // Vitest's guide: an app (create-vite) plus `npm install -D vitest`. Vitest 4 and
    // jsdom 27 are the last to run on Node 20.
    create: (dir) => [
      ['npm', 'create', '--yes', 'vite@9.3.0', dir, '--', '--template', 'vanilla', '--no-interactive'],
      ['npm', ...NPM_INSTALL, '-D', 'vitest@4.1.12', 'jsdom@27.3.0', 'happy-dom@20.14.6', 'ws@8.23.0'],
    ],
    files: { 'vitest/quickstart.test.js': 'test/quickstart.test.js', 'vitest/quickstart.jsdom.test.js': 'test/quickstart.jsdom.test.js', 'vitest/quickstart.happy-dom.test.js': 'test/quickstart.happy-dom.test.js', 'quickstart.js': 'test/quickstart.js' },
  },
  esbuild: {
    // esbuild has no template: its getting-started is `npm install esbuild`.
    create: (dir) => [['mkdir', '-p', dir], ['npm', 'init', '-y'], ['npm', ...NPM_INSTALL, '-D', 'esbuild@0.28.2']],
    files: { 'browser/main-inline.js': 'main.js', 'browser/index.html': 'index.html', 'quickstart.js': 'quickstart.js', 'esbuild/build.sh': 'build.sh' },
  },
  rollup: {
    create: (dir) => [['mkdir', '-p', dir], ['npm', 'init', '-y'], ['npm', ...NPM_INSTALL, '-D', 'rollup@4.68.8', '@rollup/plugin-node-resolve@16.0.3']],
    files: { 'browser/main-inline.js': 'main.js', 'browser/index.html': 'index.html', 'quickstart.js': 'quickstart.js', 'rollup/rollup.config.mjs': 'rollup.config.mjs' },
  },
  node: {
    create: (dir) => [['mkdir', '-p', dir], ['npm', 'init', '-y'], ['npm', ...NPM_INSTALL, 'ws@8.23.0']],
    files: { 'node/bot.mjs': 'bot.mjs', 'node/bot.cjs': 'bot.cjs', 'quickstart.js': 'quickstart.mjs' },
  },
};

/** The app's folder in the cache, made from its template on first use. */
async function app(name) {
  const spec = APPS[name];
  const key = createHash('sha256').update(JSON.stringify(spec.create('DIR'))).digest('hex').slice(0, 10);
  const dir = join(CACHE, `${name}-${key}`);
  if (!existsSync(dir)) {
    mkdirSync(CACHE, { recursive: true });
    for (const old of readdirSync(CACHE).filter((d) => d.startsWith(`${name}-`))) rmSync(join(CACHE, old), { recursive: true, force: true });
    // Made afresh on each try: a template tool stopped half-way leaves a folder it
    // refuses to fill again.
    await registryRetry(async (env) => {
      const tmp = mkdtempSync(join(CACHE, `.new-${name}-`));
      const target = join(tmp, 'app');
      try {
        for (const [cmd, ...a] of spec.create(target)) {
          const cwd = cmd === 'npm' && a[0] !== 'create' ? target : tmp;
          await sh(cmd, a.map((x) => (x === target ? 'app' : x)), { cwd, env });
        }
        renameSync(target, dir);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
    created.push(name);
  }
  return dir;
}
const created = [];

/** Pastes the quick start into the app and installs the tarball (once per run). */
const prepared = new Map();
function prepare(name) {
  if (!prepared.has(name)) {
    prepared.set(name, (async () => {
      const dir = await app(name);
      for (const [from, to] of Object.entries(APPS[name].files)) {
        mkdirSync(dirname(join(dir, to)), { recursive: true });
        cpSync(join(here, from.includes('/') ? 'apps' : '', from), join(dir, to));
      }
      await registryRetry((env) => sh('npm', [...NPM_INSTALL, '--no-save', TARBALL], { cwd: dir, env }));
      return dir;
    })());
  }
  return prepared.get(name);
}

// ----- checks -------------------------------------------------------------------------

function checkReport(report, { gc } = {}) {
  if (!report) throw new Error('no report');
  if (report.error) throw new Error(report.error);
  const missing = HANDLERS.filter((h) => !(report.fired?.[h] > 0));
  if (missing.length) throw new Error(`handlers that never fired: ${missing.join(', ')}`);
  if (gc && report.instanceCollected !== true) throw new Error('jane\'s client was never collected: the GC check proved nothing');
  return gc ? 'all 7 handlers; client collected' : `all 7 handlers; ${report.received.length} messages`;
}

function fromOutput(out) {
  const line = out.split('\n').find((l) => l.includes('QUICKSTART {'));
  if (!line) throw new Error(`no report in the output:\n${out.slice(-2000)}`);
  return JSON.parse(line.slice(line.indexOf('{')));
}

// A quick start takes seconds; this only stops a run that hangs (a handler that never
// fires) from hanging the test command. Not a performance bound.
const HANG = 180_000;
const hung = (step) => new Error(`no report after ${HANG / 1000} s; the quick start was at: ${step ?? 'its start'}`);

const query = (extra = '') => `/?host=${SERVER.host}&key=${SERVER.apiKey}${extra}`;

let chromium;
async function inChromium(url, { expectError } = {}) {
  if (!chromium) {
    const { chromium: c } = await import('playwright-core');
    chromium = await c.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', '--js-flags=--expose-gc'],
    });
  }
  const context = await chromium.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(url);
    const done = await page.waitForFunction(() => window.quickStartReport, null, { timeout: HANG }).catch(() => null);
    if (!done) throw hung(await page.evaluate(() => window.quickStartStep));
    const report = await done.jsonValue();
    if (errors.length && !report.error) report.error = errors.join('\n');
    if (expectError) {
      if (!report.error) throw new Error('the quick start passed where it had to fail');
      return report.error;
    }
    return checkReport(report, { gc: true });
  } finally {
    await context.close();
  }
}

async function inFirefox(url) {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({ browser: 'firefox', executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr', headless: true });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    const done = await page.waitForFunction(() => window.quickStartReport, { timeout: HANG }).catch(() => null);
    if (!done) throw hung(await page.evaluate(() => window.quickStartStep));
    const report = await done.jsonValue();
    return `${checkReport(report)} (${await browser.version()})`;
  } finally {
    await browser.close();
  }
}

/** WebKitGTK's MiniBrowser through WebKitWebDriver (W3C WebDriver over HTTP). WebKitGTK
 * has no headless mode (MiniBrowser needs a display even for --help): it runs on an
 * Xvfb display of its own. */
async function inWebKit(url) {
  const x = await xvfb();
  try {
    return await inWebKitOn(x.display, url);
  } finally {
    await x.stop();
  }
}

async function inWebKitOn(display, url) {
  const port = await freePort();
  const driver = start(process.env.WEBKIT_WEBDRIVER || 'WebKitWebDriver', [`--port=${port}`], { env: { DISPLAY: display } });
  const wd = async (method, path, body) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    const j = await r.json();
    if (!r.ok) throw new Error(`WebDriver ${path}: ${JSON.stringify(j.value)}`);
    return j.value;
  };
  try {
    await waitHttp(`http://127.0.0.1:${port}/status`, driver, 'WebKitWebDriver');
    const session = await wd('POST', '/session', {
      capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { args: ['--automation'] } } },
    });
    const id = session.sessionId;
    try {
      await wd('POST', `/session/${id}/url`, { url });
      for (const until = Date.now() + HANG; ;) {
        if (Date.now() > until) throw hung(await wd('POST', `/session/${id}/execute/sync`, { script: 'return window.quickStartStep', args: [] }));
        const report = await wd('POST', `/session/${id}/execute/sync`, { script: 'return window.quickStartReport ?? null', args: [] });
        if (report) return `${checkReport(report)} (WebKitGTK ${session.capabilities.browserVersion})`;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await wd('DELETE', `/session/${id}`).catch(() => {});
    }
  } finally {
    await driver.stop();
  }
}

/** Starts `command(port)` (a dev or preview server) on a free port, waits until it
 * answers, runs `f(base URL)`, stops it. A port taken between the probe and the
 * server's own bind (other processes on the machine start servers too) is retried. */
async function served(cwd, command, f) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const base = `http://localhost:${port}`;
    const [cmd, args] = command(port);
    const proc = start(cmd, args, { cwd });
    try {
      try {
        await waitHttp(base, proc, cmd);
      } catch (e) {
        if (attempt < 3 && /EADDRINUSE|already in use/.test(proc.output)) continue;
        throw e;
      }
      return await f(base);
    } finally {
      await proc.stop();
    }
  }
}

async function staticRow(dir, f) {
  const s = await serveStatic(dir);
  try {
    return await f(s.url);
  } finally {
    await s.close();
  }
}

/** The tarball's files served as they are, as a CDN does. `init`: the .wasm is not
 * where the entry looks for it and the page passes its new URL to init(); `missing`:
 * the same without init(), which must fail saying what to do (as a bundler that does
 * not emit the asset would). */
async function cdn(variant) {
  const site = join(work, `cdn-${variant}`);
  mkdirSync(site, { recursive: true });
  await sh('tar', ['xzf', TARBALL, '-C', site]);
  renameSync(join(site, 'package'), join(site, 'chatkitty-wasm'));
  cpSync(join(here, 'apps/cdn/index.html'), join(site, 'index.html'));
  cpSync(join(here, 'quickstart.js'), join(site, 'quickstart.js'));
  if (!variant) return staticRow(site, (url) => inChromium(url + query()));
  mkdirSync(join(site, 'elsewhere'));
  renameSync(join(site, 'chatkitty-wasm/chatkitty_wasm_bg.wasm'), join(site, 'elsewhere/ck.wasm'));
  if (variant === 'init') return staticRow(site, (url) => inChromium(url + query('&init=/elsewhere/ck.wasm')));
  const error = await staticRow(site, (url) => inChromium(url + query(), { expectError: true }));
  for (const hint of ['could not load its WebAssembly module', "import 'chatkitty-wasm/inline'", 'init(']) {
    if (!error.includes(hint)) throw new Error(`the error does not say "${hint}": ${error}`);
  }
  return `startSession rejected: ${error.split('\n')[0].slice(0, 110)}…`;
}

/** Next.js: the page's HTML from the server must hold the component, rendered with
 * the package imported (`data-sdk="function"`), before the browser connects. */
function serverRendered(html) {
  if (!/<pre id="quick-start" data-sdk="function">/.test(html)) throw new Error(`the page was not server-rendered with the SDK:\n${html.slice(0, 1500)}`);
}

// ----- the rows -----------------------------------------------------------------------

/** `vite build` of an app, once per run (the Firefox and WebKit rows load it too). */
const builds = new Map();
const viteBuild = (name) => {
  if (!builds.has(name)) {
    builds.set(name, prepare(name).then(async (dir) => {
      await sh(bin(dir, 'vite'), ['build', '--logLevel', 'warn'], { cwd: dir });
      return dir;
    }));
  }
  return builds.get(name);
};

const viteRows = (name, label) => [
  [`${label}: vite build (Chromium)`, async () => {
    const dir = await viteBuild(name);
    return served(dir, (port) => [bin(dir, 'vite'), ['preview', '--port', String(port), '--strictPort']], (base) => inChromium(base + query()));
  }],
  [`${label}: vite dev server (Chromium)`, async () => {
    const dir = await prepare(name);
    return served(dir, (port) => [bin(dir, 'vite'), ['--port', String(port), '--strictPort']], (base) => inChromium(base + query()));
  }],
];

const ROWS = [
  ['publint (package.json, exports, files)', async () => {
    const out = await sh(join(here, 'node_modules/.bin/publint'), [join(ROOT, 'pkg'), '--strict']);
    if (!/All good/.test(out)) throw new Error(out);
    return 'all good';
  }],
  ['arethetypeswrong (types of every entry, each resolution mode)', async () => {
    // The .wasm subpath is a binary asset, not a module with types.
    const out = await sh(join(here, 'node_modules/.bin/attw'), [TARBALL, '--exclude-entrypoints', 'chatkitty_wasm_bg.wasm', '--format', 'table-flipped']);
    return 'no problems';
  }],
  ...viteRows('vite5', 'Vite 5'),
  ...viteRows('vite', 'Vite 8'),
  ['webpack 5: production build (Chromium)', async () => {
    const dir = await prepare('webpack');
    await npm(dir, 'run', 'build');
    return staticRow(join(dir, 'dist'), (url) => inChromium(url + query()));
  }],
  ['webpack 5: webpack serve (Chromium)', async () => {
    const dir = await prepare('webpack');
    return served(dir, (port) => [bin(dir, 'webpack'), ['serve', '--port', String(port), '--no-open']], (base) => inChromium(base + query()));
  }],
  ['Next.js 16: next build + next start, SSR (Chromium)', async () => {
    const dir = await prepare('next');
    await sh(bin(dir, 'next'), ['build'], { cwd: dir });
    return served(dir, (port) => [bin(dir, 'next'), ['start', '-p', String(port)]], async (base) => {
      serverRendered(await (await fetch(base + query())).text());
      return `SSR ok; ${await inChromium(base + query())}`;
    });
  }],
  ['Next.js 16: next build --webpack + next start, SSR (Chromium)', async () => {
    const dir = await prepare('next');
    await sh(bin(dir, 'next'), ['build', '--webpack'], { cwd: dir });
    return served(dir, (port) => [bin(dir, 'next'), ['start', '-p', String(port)]], async (base) => {
      serverRendered(await (await fetch(base + query())).text());
      return `SSR ok; ${await inChromium(base + query())}`;
    });
  }],
  ['Next.js 16: next dev, SSR (Chromium)', async () => {
    const dir = await prepare('next');
    return served(dir, (port) => [bin(dir, 'next'), ['dev', '-p', String(port)]], async (base) => {
      serverRendered(await (await fetch(base + query())).text());
      return `SSR ok; ${await inChromium(base + query())}`;
    });
  }],
  ['esbuild (chatkitty-wasm/inline) (Chromium)', async () => {
    const dir = await prepare('esbuild');
    await sh('bash', ['build.sh'], { cwd: dir });
    return staticRow(join(dir, 'dist'), (url) => inChromium(url + query()));
  }],
  ['Rollup + node-resolve (chatkitty-wasm/inline) (Chromium)', async () => {
    const dir = await prepare('rollup');
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    await sh(bin(dir, 'rollup'), ['-c', '--silent'], { cwd: dir });
    cpSync(join(dir, 'index.html'), join(dir, 'dist/index.html'));
    return staticRow(join(dir, 'dist'), (url) => inChromium(url + query()));
  }],
  ['CDN-style <script type=module>: the unbundled package files (Chromium)', () => cdn()],
  ['CDN-style, init(url) with the .wasm moved elsewhere (Chromium)', () => cdn('init')],
  ['CDN-style, the .wasm missing: the error says what to do (Chromium)', () => cdn('missing')],
  ...['node', 'jsdom', 'happy-dom'].map((env) => [`Vitest 4: ${env} environment`, async () => {
    const dir = await prepare('vitest');
    const file = env === 'node' ? 'test/quickstart.test.js' : `test/quickstart.${env}.test.js`;
    const out = await sh(bin(dir, 'vitest'), ['run', file], { cwd: dir, env: { CK_HOST: SERVER.host, CK_API_KEY: SERVER.apiKey }, limit: HANG });
    return checkReport(fromOutput(out));
  }]),
  ['Node 20: ES module bot, ws, garbage collected', async () => {
    const dir = await prepare('node');
    const out = await sh('node', ['--expose-gc', 'bot.mjs'], { cwd: dir, env: { CK_HOST: SERVER.host, CK_API_KEY: SERVER.apiKey }, limit: HANG });
    return checkReport(fromOutput(out), { gc: true });
  }],
  ['Node 20: CommonJS bot (require), ws', async () => {
    const dir = await prepare('node');
    const out = await sh('node', ['bot.cjs'], { cwd: dir, env: { CK_HOST: SERVER.host, CK_API_KEY: SERVER.apiKey }, limit: HANG });
    return checkReport(fromOutput(out));
  }],
  ['Node 20 --experimental-websocket: the platform WebSocket (as Node 22)', async () => {
    const dir = await prepare('node');
    const out = await sh('node', ['--experimental-websocket', 'bot.mjs'], { cwd: dir, env: { CK_HOST: SERVER.host, CK_API_KEY: SERVER.apiKey }, limit: HANG });
    return checkReport(fromOutput(out));
  }],
  ['Firefox: Vite 8 build, quick start and a short chat', async () => {
    const dir = await viteBuild('vite');
    return staticRow(join(dir, 'dist'), (url) => inFirefox(url + query('&chat')));
  }],
  ['WebKit: Vite 8 build, quick start and a short chat', async () => {
    const dir = await viteBuild('vite');
    return staticRow(join(dir, 'dist'), (url) => inWebKit(url + query('&chat')));
  }],
];

if (args.includes('--list')) {
  for (const [name] of ROWS) console.log(name);
  process.exit(0);
}

// ----- run ----------------------------------------------------------------------------

const t0 = Date.now();
const work = mkdtempSync(join(tmpdir(), 'chatkitty-consumers-'));
const TARBALL = join(work, (await sh('npm', ['pack', join(ROOT, 'pkg'), '--pack-destination', work, '--silent'])).trim().split('\n').pop());
const SERVER = await startChatServer(process.env.CHATKITTY_SERVER_BIN || join(ROOT, 'target/debug/chatkitty-server'), 'consumers-key');
console.log(`tarball ${TARBALL.split('/').pop()}, server ${SERVER.host}`);

const results = [];
try {
  for (const [name, run] of ROWS) {
    if (only && !only.some((o) => name.toLowerCase().includes(o.toLowerCase()))) continue;
    const t = Date.now();
    try {
      const detail = await run();
      results.push({ name, ok: true, ms: Date.now() - t, detail });
      console.log(`  ok    ${name} (${((Date.now() - t) / 1000).toFixed(1)} s): ${detail}`);
    } catch (e) {
      results.push({ name, ok: false, ms: Date.now() - t });
      console.log(`  FAIL  ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)\n        ${String(e?.stack ?? e).split('\n').slice(0, 30).join('\n        ')}`);
    }
  }
} finally {
  await chromium?.close();
  await SERVER.stop();
  rmSync(work, { recursive: true, force: true });
}
const failed = results.filter((r) => !r.ok);
const made = created.length ? `; apps made from their templates this run: ${created.join(', ')}` : '; every app from the cache';
console.log(`\nconsumer matrix: ${results.length - failed.length}/${results.length} passed in ${((Date.now() - t0) / 1000).toFixed(0)} s${made}`);
process.exit(failed.length ? 1 : 0);
