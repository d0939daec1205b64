// chatkitty-wasm: loading the WebAssembly module, once, on first need. Each entry
// (index.js, inline.js, node.js) says where the module comes from and which WebSocket
// to use; importing any of them runs nothing else, so the package can be imported
// where nothing can be fetched (server rendering, Node, test runners, CommonJS).
import load, { initSync as loadSync, ChatKitty as Core } from './chatkitty_wasm.js';
import { upload } from './surface.js';

/** Set by the entry: `wasm()` gives what `init` loads by default; `socket()` the
 * default WebSocket constructor (or a Promise of it). `ready` once loaded. */
export const state = { ready: false, WebSocket: undefined, wasm: undefined, socket: () => globalThis.WebSocket };
let loading;

const loaded = (ws) => {
  Core._host(upload);
  state.WebSocket = ws;
  state.ready = true;
};

/**
 * Loads the WebAssembly module. Optional: every call waits for it by itself. `input`
 * is where it is (a URL or string, a `Response` or a Promise of one), its bytes or a
 * compiled `WebAssembly.Module`; without it, where the entry keeps it. Later calls
 * return the first call's Promise.
 */
export function init(input) {
  return (loading ??= (async () => {
    const [, ws] = await Promise.all([
      load({ module_or_path: input ?? state.wasm() }),
      state.socket(),
    ]);
    loaded(ws);
  })().catch((e) => {
    loading = undefined;
    throw new Error(
      `chatkitty-wasm could not load its WebAssembly module (${e?.message ?? e}). If the bundler did not emit chatkitty_wasm_bg.wasm, import 'chatkitty-wasm/inline', or serve the file and call init(itsUrl).`,
      { cause: e },
    );
  }));
}

/** Loads the module synchronously from its bytes or a `WebAssembly.Module` (Node,
 * workers; browsers refuse to compile large modules synchronously on the main thread). */
export function initSync(input) {
  if (!state.ready) {
    loadSync({ module: input ?? state.wasmSync() });
    loaded(globalThis.WebSocket);
  }
}
