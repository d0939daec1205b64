// Prints an HS256 session JWT for a username, as an app's backend would issue it.
//   CHATKITTY_JWT_HS256_SECRET=… node examples/auth/jwt-token.mjs jane [audience]
import { createHmac } from 'node:crypto';

const [username, audience] = process.argv.slice(2);
const secret = process.env.CHATKITTY_JWT_HS256_SECRET;
if (!username || !secret) {
  console.error('usage: CHATKITTY_JWT_HS256_SECRET=<secret> node jwt-token.mjs <username> [audience]');
  process.exit(2);
}
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const claims = { sub: username, exp: Math.floor(Date.now() / 1000) + 3600, ...(audience ? { aud: audience } : {}) };
const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
const signature = createHmac('sha256', secret).update(unsigned).digest('base64url');
console.log(`${unsigned}.${signature}`);
