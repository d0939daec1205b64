// Bundle size: the quick-start page (startSession, createChannel DIRECT,
// startChatSession with the seven handlers, sendMessage) built by Vite with its
// default configuration, once with our package and once with chatkitty@1.58.2 (+
// uuid@8). Each built page is then opened in headless Chromium against the server
// (which serves it) and must log "sent"; the files it downloaded are the ones counted.
// Sizes: raw, gzip -9 and brotli quality 11 (Node's zlib), per file and total.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { startServer, launchBrowser, startNative, writeResult, BENCH_BROWSER, versions } from './common.mjs';

const KINDS = ['ours', 'official'];
const gzip = (b) => zlib.gzipSync(b, { level: 9 }).length;
const brotli = (b) => zlib.brotliCompressSync(b, {
  params: {
    [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
    [zlib.constants.BROTLI_PARAM_LGWIN]: zlib.constants.BROTLI_MAX_WINDOW_BITS,
    [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length,
  },
}).length;

const figures = { bundler: `vite ${versions().vite} (default config)`, versions: versions(), pages: {} };
for (const kind of KINDS) {
  const root = join(BENCH_BROWSER, 'bundle', kind);
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  execFileSync(join(BENCH_BROWSER, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  const dist = join(root, 'dist');
  const server = await startServer({ staticDir: dist });
  const browser = await launchBrowser();
  let peer;
  try {
    peer = await startNative(['burst', '--server', server.host, '--key', server.apiKey, '--user', 'john']);
    const page = await browser.newPage();
    const downloaded = [];
    page.on('response', (r) => {
      const url = new URL(r.url());
      if (url.host === server.host && url.protocol === 'http:') downloaded.push(decodeURIComponent(url.pathname));
    });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://${server.host}/index.html?key=${server.apiKey}&user=jane&peer=john`);
    let works = true;
    try {
      await page.waitForFunction(() => document.getElementById('log').textContent.includes('sent'), null, { timeout: 15000 });
    } catch {
      works = false;
    }
    const files = [];
    for (const path of [...new Set(downloaded)]) {
      const rel = path === '/' ? 'index.html' : path.slice(1);
      const bytes = readFileSync(join(dist, rel));
      files.push({ file: rel.replace(/-[A-Za-z0-9_]{8}\./, '.'), raw: bytes.length, gzip9: gzip(bytes), brotli11: brotli(bytes) });
    }
    files.sort((a, b) => b.raw - a.raw);
    const total = (k) => files.reduce((n, f) => n + f[k], 0);
    figures.pages[kind] = {
      package: kind === 'ours' ? 'chatkitty-wasm (file:../../pkg)' : 'chatkitty@1.58.2 + uuid@8',
      page_works: works,
      page_errors: errors,
      files,
      total: { raw: total('raw'), gzip9: total('gzip9'), brotli11: total('brotli11') },
    };
    console.log(`\n${kind}: ${figures.pages[kind].package}${works ? '' : '  (PAGE DID NOT COMPLETE: ' + errors.join('; ') + ')'}`);
    console.log(`${'file'.padEnd(34)} ${'raw'.padStart(9)} ${'gzip -9'.padStart(9)} ${'brotli 11'.padStart(9)}`);
    for (const f of [...files, { file: 'total', ...figures.pages[kind].total }]) {
      console.log(`${f.file.padEnd(34)} ${String(f.raw).padStart(9)} ${String(f.gzip9).padStart(9)} ${String(f.brotli11).padStart(9)}`);
    }
  } finally {
    await browser.close();
    if (peer) await peer.stop();
    await server.stop();
  }
}
const o = figures.pages.ours.total;
const f = figures.pages.official.total;
figures.ours_over_official = { raw: +(o.raw / f.raw).toFixed(3), gzip9: +(o.gzip9 / f.gzip9).toFixed(3), brotli11: +(o.brotli11 / f.brotli11).toFixed(3) };
console.log(`\nours / official: gzip ${figures.ours_over_official.gzip9}, brotli ${figures.ours_over_official.brotli11}`);
writeResult('bundle', figures);
