// chatkitty-wasm for Node: the WebAssembly module is read from the package's folder;
// the WebSocket is the platform's (Node 22 and later) or, on Node 20, the `ws` package
// when installed (or the `WebSocket` option of the configuration).
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { state } from './loader.js';

const file = () => new URL('./chatkitty_wasm_bg.wasm', import.meta.url);
state.wasm = () => readFile(file());
state.wasmSync = () => readFileSync(file());
state.socket = async () =>
  globalThis.WebSocket ??
  (await import(/* webpackIgnore: true */ /* @vite-ignore */ 'ws').then((ws) => ws.WebSocket ?? ws.default, () => undefined));

export * from './client.js';
export { default } from './client.js';
