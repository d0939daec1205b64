// What the demo's end-to-end test needs around the app: a chat server it can stop and
// start again on the same database and port, and headless Chromium.
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
  '--no-first-run',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function launchBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/**
 * A chat server on a throwaway SQLite file. `restart()` stops it (SIGTERM: clients are
 * told to reconnect) and starts it again on the same database, files and port.
 */
export async function startServer({ staticDir, apiKey = 'demo', args = [] }) {
  const bin = process.env.CHATKITTY_SERVER_BIN || join(ROOT, 'target/debug/chatkitty-server');
  const dir = mkdtempSync(join(tmpdir(), 'kitty-demo-e2e-'));
  let port = 0;
  let child = null;
  let stderr = '';

  async function spawnServer() {
    const argv = [
      '--port', String(port), '--database', join(dir, 'chat.db'), '--api-key', apiKey,
      '--static-dir', staticDir, '--presence-grace-ms', '0', '--typing-timeout-ms', '3000',
      '--files-dir', join(dir, 'files'), ...args,
    ];
    child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' } });
    child.stderr.on('data', (d) => {
      stderr += d;
      if (process.env.E2E_SERVER_LOG) process.stderr.write(d);
    });
    const proc = child;
    const host = await new Promise((ok, fail) => {
      let out = '';
      const timer = setTimeout(() => fail(new Error(`server did not start: ${stderr}`)), 30000);
      proc.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/listening on http:\/\/([^\s]+)/);
        if (m) {
          clearTimeout(timer);
          ok(m[1]);
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`server exited (${code}): ${stderr}`));
      });
    });
    port = Number(host.split(':').pop());
    return host;
  }

  async function stop() {
    if (child && child.exitCode === null && child.signalCode === null) {
      const proc = child;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const killed = setTimeout(() => proc.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(killed);
    }
    child = null;
  }

  const host = await spawnServer();
  return {
    host,
    url: `http://${host}/`,
    get stderr() { return stderr; },
    stop,
    /** Starts the stopped server again; retries while the port is still held. */
    async start() {
      for (let attempt = 0; ; attempt++) {
        try {
          return await spawnServer();
        } catch (e) {
          if (attempt >= 20) throw e;
          await sleep(250);
        }
      }
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
