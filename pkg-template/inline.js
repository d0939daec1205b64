// chatkitty-wasm/inline: the WebAssembly module inside the JavaScript, base64-encoded,
// for bundlers that do not emit `new URL(…, import.meta.url)` assets (esbuild, Rollup
// without plugins) and for dev servers. Decoded and compiled on first need.
import { state } from './loader.js';
import base64 from './chatkitty_wasm_bg.wasm.base64.js';

state.wasm = () => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

export * from './client.js';
export { default } from './client.js';
