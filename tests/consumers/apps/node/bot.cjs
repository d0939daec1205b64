// A Node script as a chat bot (CommonJS): require() gets the package's CommonJS entry.
const ChatKitty = require('chatkitty-wasm').default;

(async () => {
  const { quickStart } = await import('./quickstart.mjs');
  const server = { apiKey: process.env.CK_API_KEY, host: process.env.CK_HOST };
  const report = await quickStart(ChatKitty, server, { chat: true, progress: console.log });
  console.log(`QUICKSTART ${JSON.stringify(report)}`);
  // Both sessions ended: nothing keeps the process alive, it exits by itself.
})();
