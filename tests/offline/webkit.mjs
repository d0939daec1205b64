// WebKitGTK for the offline tests (run.mjs): the few calls run.mjs makes of a puppeteer
// browser (contexts, pages, evaluate, reload, close), carried out over W3C WebDriver by
// WebKitWebDriver (Debian's webkit2gtk-driver). WebKitGTK has no headless mode: its
// MiniBrowser runs on an Xvfb display of its own. Each browser context is a WebDriver
// session of its own (its own driver and MiniBrowser, an ephemeral profile); each page a
// tab of it. Processes are started as the consumer matrix starts them (tests/consumers/lib.mjs).
import { start, freePort, sleep, xvfb } from '../consumers/lib.mjs';

/** A WebDriver session: its driver process and the HTTP calls to it. */
async function session(display, log) {
  const port = await freePort();
  log('driver port', port);
  const driver = start(process.env.WEBKIT_WEBDRIVER || 'WebKitWebDriver', [`--port=${port}`], { env: { DISPLAY: display } });
  const call = async (method, path, body) => {
    // Bounded: a driver whose browser went may never answer.
    const r = await fetch(`http://127.0.0.1:${port}${path}`, {
      method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body), signal: AbortSignal.timeout(180000),
    });
    const j = await r.json();
    if (!r.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(j.value)}`);
    return j.value;
  };
  for (let i = 0; ; i++) {
    try {
      await call('GET', '/status');
      break;
    } catch (e) {
      if (i > 100 || driver.child.exitCode !== null) throw new Error(`WebKitWebDriver did not start: ${driver.output}`);
      await sleep(100);
    }
  }
  log('driver up');
  const s = await call('POST', '/session', { capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { args: ['--automation'] } } } });
  const base = `/session/${s.sessionId}`;
  await call('POST', `${base}/timeouts`, { script: 120000, pageLoad: 60000 });
  return { call: (method, path, body) => call(method, `${base}${path}`, body), version: s.capabilities.browserVersion, driver };
}

class Page {
  constructor(ctx, handle) {
    this.ctx = ctx;
    this.handle = handle;
  }

  async focus() {
    if (this.ctx.current !== this.handle) {
      await this.ctx.s.call('POST', '/window', { handle: this.handle });
      this.ctx.current = this.handle;
    }
  }

  on() {}

  async goto(url) {
    await this.focus();
    await this.ctx.s.call('POST', '/url', { url });
  }

  async reload() {
    await this.focus();
    await this.ctx.s.call('POST', '/refresh', {});
  }

  /** `f(...args)` in the page (its Promise awaited); the value back as JSON. A session
   * runs one script at a time in its current tab: calls wait for each other (so pages
   * "at once" run one after the other here). */
  evaluate(f, ...args) {
    const run = this.ctx.queue.then(() => this.run(f, args));
    this.ctx.queue = run.catch(() => {});
    return run;
  }

  async run(f, args) {
    await this.focus();
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve().then(() => (${f}).apply(null, Array.from(arguments).slice(0, -1)))
        .then((v) => done(v === undefined ? { none: true } : { ok: v }), (e) => done({ err: (e && e.name ? e.name + ': ' : '') + (e && e.message || String(e)) }));`;
    const r = await this.ctx.s.call('POST', '/execute/async', { script, args });
    if (r && 'err' in r) throw new Error(r.err);
    return r.none ? undefined : r.ok;
  }

  async waitForFunction(f) {
    for (let i = 0; i < 600; i++) {
      if (await this.evaluate(f).catch(() => false)) return;
      await sleep(100);
    }
    throw new Error('waitForFunction: timed out');
  }

  async close() {
    await this.focus();
    await this.ctx.s.call('DELETE', '/window');
    this.ctx.current = undefined;
    this.ctx.pages.delete(this);
  }
}

class Context {
  constructor(s) {
    this.s = s;
    this.pages = new Set();
    this.queue = Promise.resolve();
    this.current = undefined;
    this.first = true;
  }

  async newPage() {
    let handle;
    if (this.first) {
      this.first = false;
      handle = await this.s.call('GET', '/window');
    } else {
      handle = (await this.s.call('POST', '/window/new', { type: 'tab' })).handle;
    }
    const p = new Page(this, handle);
    this.pages.add(p);
    return p;
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await Promise.race([this.s.call('DELETE', '').catch(() => {}), sleep(5000)]);
    await this.s.driver.stop();
  }
}

/** A browser: an Xvfb display and a WebDriver session per context. */
export async function launchWebKit() {
  const log = process.env.WEBKIT_DEBUG ? (...a) => console.error('[webkit]', ...a) : () => {};
  const x = await xvfb();
  const display = x.display;
  log('display', display);
  const contexts = [];
  const make = async () => {
    const c = new Context(await session(display, log));
    contexts.push(c);
    return c;
  };
  const main = await make();
  return {
    version: async () => `WebKitGTK ${main.s.version}`,
    defaultBrowserContext: () => main,
    createBrowserContext: make,
    close: async () => {
      for (const c of contexts) await c.close();
      await x.stop();
    },
  };
}
