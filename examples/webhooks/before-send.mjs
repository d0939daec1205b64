// A before-send hook (docs/protocol.md §15.2): rejects messages with a banned word,
// hides phone numbers, allows the rest.
//   node examples/webhooks/before-send.mjs <port>
import { createServer } from 'node:http';

const [port = '9001'] = process.argv.slice(2);
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c)).on('end', () => {
    const { message } = JSON.parse(Buffer.concat(chunks));
    const body = message.body ?? '';
    let answer = { action: 'allow' };
    if (/\bspoiler\b/i.test(body)) answer = { action: 'reject', reason: 'No spoilers, please.' };
    else if (/\d{3}-\d{4}/.test(body)) answer = { action: 'replace', body: body.replace(/\d{3}-\d{4}/g, '***-****') };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
});
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`before-send hook on http://127.0.0.1:${server.address().port}`);
});
