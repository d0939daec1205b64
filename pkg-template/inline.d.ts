// chatkitty-wasm/inline: the same API as the package's main entry.
export * from './index.js';
export { default } from './index.js';
