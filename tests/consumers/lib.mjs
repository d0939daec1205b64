// Helpers of the consumer matrix: commands, long-running servers (each in its own
// process group, stopped by its id), a static file server, the chat server.
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs a command; resolves with its output, rejects with its last lines. `limit`
 * (ms): a guard against a hang, not a performance bound — the command is killed. */
export function sh(cmd, args, { cwd, env, quiet, limit } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const guard = limit && setTimeout(() => {
      out += `\n[killed: still running after ${limit / 1000} s]`;
      child.kill('SIGKILL');
    }, limit);
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (code === 0) resolve(out);
      else {
        const tail = out.trim().split('\n').slice(-25).join('\n');
        reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd ?? '.'}) exited with ${code ?? signal}${quiet ? '' : `:\n${tail}`}`));
      }
    });
  });
}

/** npm's errors that say the registry, not the app, failed: a version not visible yet
 * while its dependent already is (`ETARGET` during a publish), or the network. */
const REGISTRY_HICCUP = /npm (?:error|ERR!) code (ETARGET|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|E5\d\d)\b/;

/** Runs `attempt` again (up to `tries` in all, `wait` ms apart, each wait longer) while
 * it fails for a registry hiccup: apps are made from their templates' latest
 * dependencies, so a package published a minute ago can name a dependency the
 * registry does not serve yet (the registry's copies of a package's metadata agree
 * again within minutes). Any other failure is the app's and is not retried. `attempt`
 * gets the environment of its commands: on a retry, npm asks the registry again rather
 * than answering from the metadata it cached on the failed try. */
export async function registryRetry(attempt, { tries = 3, wait = 30_000 } = {}) {
  for (let i = 1; ; i++) {
    try {
      return await attempt(i === 1 ? {} : { npm_config_prefer_online: 'true' });
    } catch (e) {
      if (i >= tries || !REGISTRY_HICCUP.test(String(e?.message))) throw e;
      console.log(`  (the npm registry failed: ${String(e.message).match(REGISTRY_HICCUP)[0]}; trying again in ${(wait * i) / 1000} s)`);
      await sleep(wait * i);
    }
  }
}

/** Starts a long-running command (a dev or preview server) in its own process group. */
export function start(cmd, args, { cwd, env } = {}) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    child,
    get output() { return out; },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
      const gone = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!gone) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    },
  };
}

/** An Xvfb display of its own (WebKitGTK has no headless mode): `{display: ':N', stop}`. */
export async function xvfb() {
  const x = start('Xvfb', ['-displayfd', '1', '-screen', '0', '1280x800x24', '-nolisten', 'tcp']);
  let n;
  while (!(n = x.output.match(/^(\d+)\s*$/m)?.[1])) {
    if (x.child.exitCode !== null) throw new Error(`Xvfb exited: ${x.output}`);
    await sleep(50);
  }
  return { display: `:${n}`, stop: () => x.stop() };
}

/** Waits until `url` answers 200 (or the process exits). */
export async function waitHttp(url, proc, what) {
  for (;;) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${what} exited:\n${proc.output.slice(-2000)}`);
    try {
      const r = await fetch(url);
      if (r.ok) return await r.text();
    } catch { /* not up yet */ }
    await sleep(200);
  }
}

/** A free TCP port, on every interface (`::`, dual-stack) as dev servers bind it. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '::', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.json': 'application/json' };

/** Serves `dir` over HTTP (what a static host does with a build's output). */
export async function serveStatic(dir) {
  const server = createServer((req, res) => {
    let path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(dir, path);
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/** chatkitty-server on a free port with a throwaway database. */
export async function startChatServer(bin, apiKey) {
  const dir = mkdtempSync(join(tmpdir(), 'chatkitty-consumers-'));
  const proc = start(bin, [
    '--bind', '127.0.0.1', '--port', '0', '--database', join(dir, 'chat.db'), '--api-key', apiKey,
    '--presence-grace-ms', '0', '--typing-timeout-ms', '1500', '--files-dir', join(dir, 'files'),
  ], { env: { RUST_LOG: process.env.RUST_LOG || 'warn' } });
  for (;;) {
    const m = proc.output.match(/listening on http:\/\/([^\s]+)/);
    if (m) break;
    if (proc.child.exitCode !== null) throw new Error(`chatkitty-server exited: ${proc.output}`);
    await sleep(50);
  }
  const host = proc.output.match(/listening on http:\/\/([^\s]+)/)[1];
  return {
    host,
    apiKey,
    get log() { return proc.output; },
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
