import { defineConfig } from 'vite';

// The page the session, throughput and latency benchmarks drive: both clients behind
// one small API (page/bench.js). The bundle-size benchmark does NOT use this config:
// it builds bundle/*/ with Vite's defaults.
export default defineConfig({
  root: 'page',
  base: './',
  // The official client's SockJS fallback expects Node's `global`.
  define: { global: 'globalThis' },
  build: { outDir: '../out/page', emptyOutDir: true, target: 'es2022' },
  logLevel: 'warn',
});
