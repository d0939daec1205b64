// A webhook receiver verifying Standard Webhooks signatures (docs/protocol.md §15.1).
//   node examples/webhooks/receiver.mjs <port> <whsec_… secret>
// Prints "<type> <data JSON>" for each verified event and answers 204; anything not
// signed with the secret gets 401.
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

const [port = '9000', secret = process.env.WEBHOOK_SECRET] = process.argv.slice(2);
const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');

function verified(headers, body) {
  const id = headers['webhook-id'], ts = headers['webhook-timestamp'];
  if (!id || !(Math.abs(Date.now() / 1000 - Number(ts)) <= 300)) return false; // replays
  const expected = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest();
  return (headers['webhook-signature'] ?? '').split(' ').some((s) => {
    const sig = Buffer.from(s.replace(/^v1,/, ''), 'base64');
    return sig.length === expected.length && timingSafeEqual(sig, expected);
  });
}

const seen = new Set(); // delivery is at least once: skip an id seen before
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c)).on('end', () => {
    const body = Buffer.concat(chunks);
    if (!verified(req.headers, body)) return res.writeHead(401).end();
    res.writeHead(204).end();
    if (seen.has(req.headers['webhook-id'])) return;
    seen.add(req.headers['webhook-id']);
    const event = JSON.parse(body);
    console.log(event.type, JSON.stringify(event.data));
  });
});
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`webhook receiver on http://127.0.0.1:${server.address().port}`);
});
