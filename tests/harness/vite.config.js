import { defineConfig } from 'vite';

// Bundles the harness page: both clients behind one adapter (page/adapter.js).
export default defineConfig({
  root: 'page',
  base: './',
  // The official client's SockJS fallback expects Node's `global`.
  define: { global: 'globalThis' },
  build: { outDir: '../out/page', emptyOutDir: true, target: 'es2022', minify: false },
  logLevel: 'warn',
});
