// The page every browser row loads: the seed's import, then the quick start against
// the server named in the query string. The runner reads `window.quickStartReport`.
import ChatKitty from 'chatkitty-wasm';
import { quickStart, serverFromLocation } from './quickstart.js';

const out = document.body.appendChild(document.createElement('pre'));
out.id = 'quick-start';
out.textContent = 'running';
const chat = new URLSearchParams(location.search).has('chat');
quickStart(ChatKitty, serverFromLocation(), { gc: globalThis.gc, chat, progress: (step) => (window.quickStartStep = step) }).then(
  (report) => {
    window.quickStartReport = report;
    out.textContent = JSON.stringify(report);
  },
  (error) => {
    window.quickStartReport = { error: String(error?.stack ?? error) };
    out.textContent = String(error);
  },
);
