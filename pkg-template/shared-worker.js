// chatkitty-wasm: the SharedWorker of `shareConnection: true` (docs/api.md §18), one per
// origin: it owns the connections of every tab of the origin's apps through the hub
// (hub.js). Where browsers have no SharedWorker, a tab runs the hub instead (shared.js).
import { state } from './loader.js';
import { serve } from './hub.js';

state.wasm = () => new URL('./chatkitty_wasm_bg.wasm', import.meta.url);

self.onconnect = (e) => serve(e.ports[0]);
