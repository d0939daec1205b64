// A toy "user attempted start session" verifier for --auth-callback-url: allows the
// users below with their passwords. Your backend would check its own user database.
//   node examples/auth/callback-verifier.mjs 9090
import { createServer } from 'node:http';

const USERS = { jane: 'open sesame', john: 'swordfish' };
const port = Number(process.argv[2] || 9090);

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    let allow = false;
    try {
      const { username, authParams } = JSON.parse(body);
      allow = USERS[username] !== undefined && authParams?.password === USERS[username];
    } catch {}
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(allow ? { allow: true } : { allow: false, message: 'Wrong username or password.' }));
  });
});
server.listen(port, '127.0.0.1', () => console.log(`verifier on http://127.0.0.1:${server.address().port}/`));
