// chatkitty-wasm for browsers and bundlers. The `new URL(…, import.meta.url)` below is
// the pattern Vite, webpack 5, Parcel and Next.js recognise: they emit the .wasm file as
// an asset and rewrite the URL. It is only fetched (streaming) on first need.
import { state } from './loader.js';

state.wasm = () => new URL('./chatkitty_wasm_bg.wasm', import.meta.url);

export * from './client.js';
export { default } from './client.js';
