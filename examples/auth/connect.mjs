// Opens one session the way the SDK does (a STOMP CONNECT over the WebSocket with
// StompX-User and StompX-Auth-Params) and prints what the server answered.
//   node --experimental-websocket examples/auth/connect.mjs <host:port> <api key> <username> [authParams JSON]
// (Node 22+ needs no flag.) Exits 0 when the session started, 1 when it was refused.
const [host, apiKey, username, authJson] = process.argv.slice(2);
if (!username) {
  console.error('usage: connect.mjs <host:port> <api key> <username> [authParams JSON]');
  process.exit(2);
}
if (typeof WebSocket === 'undefined') {
  console.error('no WebSocket in this Node: run it with --experimental-websocket (Node 20) or Node 22+');
  process.exit(2);
}
const headers = { 'accept-version': '1.2', 'heart-beat': '0,0', 'StompX-User': username, 'StompX-User-Agent': 'auth-example' };
// As the SDK: Base64 of the JSON text, Latin-1 bytes.
if (authJson) headers['StompX-Auth-Params'] = Buffer.from(JSON.stringify(JSON.parse(authJson)), 'latin1').toString('base64');
const frame = (command, h, body = '') =>
  `${command}\n${Object.entries(h).map(([k, v]) => `${k}:${v}`).join('\n')}\n\n${body}\0`;

const ws = new WebSocket(`ws://${host}/rtm/websocket?api-key=${encodeURIComponent(apiKey)}`, ['v12.stomp']);
const timer = setTimeout(() => { console.error('no answer'); process.exit(1); }, 10000);
ws.onopen = () => ws.send(frame('CONNECT', headers));
ws.onerror = () => { console.error(`cannot reach ws://${host}`); process.exit(1); };
// A WebSocket message may hold several frames, each ending with NUL (the server packs
// frames queued together, docs/protocol.md §2.2); heart-beats are bare newlines.
ws.onmessage = ({ data }) => {
  for (const f of String(data).split('\0')) {
    const text = f.replace(/^[\r\n]+/, '');
    if (text) onFrame(`${text}\0`);
  }
};
const onFrame = (text) => {
  if (text.startsWith('CONNECTED')) {
    // Ask for the current user, as startSession does next.
    ws.send(frame('SUBSCRIBE', { id: 'me', destination: '/application/v1/user.relay', receipt: 'me' }));
  } else if (text.startsWith('MESSAGE') && text.includes('subscription:me')) {
    const user = JSON.parse(text.slice(text.indexOf('\n\n') + 2).replace(/\0$/, '')).resource;
    console.log(`session started: ${user.name} (${user.displayName}), guest: ${user.isGuest}`);
    clearTimeout(timer);
    ws.close();
    process.exit(0);
  } else if (text.startsWith('ERROR')) {
    console.log(`refused: ${text.slice(text.indexOf('\n\n') + 2).replace(/\0$/, '')}`);
    clearTimeout(timer);
    process.exit(1);
  }
};
