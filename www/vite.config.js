import { defineConfig } from 'vite';

// Default Vite config on purpose: the package must work without special setup.
export default defineConfig({
  server: { port: 5173 },
});
