// A tab's side of shareConnection (pkg-template/shared.js `Remote`) in Node, with ports
// that record what the tab sends: what it tells a new hub after a handover
// (docs/api.md §18.1), and what it does with what a hub sends back.
// Run: node --test tests/offline/shared.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { install, OP } from '../../pkg-template/surface.js';
import { Remote } from '../../pkg-template/shared.js';

install(class {});

/** A port that keeps what is posted to it; `answer(m)` plays the hub. */
const port = () => ({ sent: [], onmessage: null, postMessage(m) { this.sent.push(m); } });
const answer = (p, m) => p.onmessage({ data: m });
const channel = { id: 7, _topics: { self: '/t/7' } };

async function signedIn() {
  const r = new Remote();
  r.hello = { t: 'hello', lock: 'l', config: { apiKey: 'k' } };
  const a = port();
  r.attach(a);
  const started = r.startSession({ username: 'jane' });
  const start = a.sent.find((m) => m.t === 'start');
  answer(a, { t: 'user', u: { name: 'jane' } });
  answer(a, { t: 'ok', id: start.id, r: { succeeded: true, session: { user: { name: 'jane' } } } });
  await started;
  return { r, a };
}

test('a new hub is told the hello, the session, observers and chat sessions, then the calls in flight', async () => {
  const { r, a } = await signedIn();
  r._on(5, () => {});
  const cs = r.startChatSession({ channel, onReceivedMessage: () => {} });
  const read = r._call(OP.getChannels, {});
  const send = r._call(OP.sendMessage, { channel, body: 'hi' });
  const react = r._call(OP.reactToMessage, { message: { id: 1 }, emoji: ':+1:' });
  const key = a.sent.find((m) => m.op === OP.sendMessage).request.idempotencyKey;
  assert.match(key, /^[0-9a-f-]{36}$/, 'a text send gets its idempotency key in the tab');
  const b = port();
  r.attach(b);
  assert.deepEqual(b.sent.map((m) => m.t), ['hello', 'on', 'start', 'chat', 'call', 'call']);
  assert.deepEqual(b.sent[2].request, { username: 'jane' });
  assert.equal(b.sent[3].request._after, undefined, 'no message received yet: the session seeds as usual');
  const [again, sendAgain] = b.sent.slice(4);
  assert.equal(again.op, OP.getChannels);
  assert.equal(sendAgain.request.idempotencyKey, key, 'sent again under the same key');
  // The write that cannot be run twice fails as at a dropped connection.
  const r3 = await react;
  assert.equal(r3.failed, true);
  assert.equal(r3.error.error, 'ChatKittyConnectionError');
  answer(b, { t: 'ok', id: again.id, r: { succeeded: true, paginator: { items: [] } } });
  answer(b, { t: 'ok', id: sendAgain.id, r: { succeeded: true, message: { body: 'hi' } } });
  assert.equal((await read).succeeded, true);
  assert.equal((await send).message.body, 'hi');
  void cs;
});

test('calls made before any hub was found are sent, whatever they are', async () => {
  const r = new Remote();
  r.hello = { t: 'hello', lock: 'l', config: {} };
  r.user = { name: 'jane' };
  const pending = r._call(OP.reactToMessage, { message: { id: 1 }, emoji: ':+1:' });
  const a = port();
  r.attach(a);
  const m = a.sent.find((x) => x.t === 'call');
  assert.equal(m?.op, OP.reactToMessage);
  answer(a, { t: 'ok', id: m.id, r: { succeeded: true } });
  assert.equal((await pending).succeeded, true);
});

test('a chat session resumes after the oldest of its last 16 messages, and what the new hub delivers again is dropped', async () => {
  const { r, a } = await signedIn();
  const got = [];
  r.startChatSession({ channel, onReceivedMessage: (m) => got.push(m.id) });
  const chat = a.sent.find((m) => m.t === 'chat');
  for (let id = 1; id <= 20; id++) answer(a, { t: 'chat', id: chat.id, h: 'onReceivedMessage', args: [{ id }] });
  const b = port();
  r.attach(b);
  const resumed = b.sent.find((m) => m.t === 'chat');
  assert.equal(resumed.request._after, 5, 'the oldest of 5..20');
  for (const id of [6, 19, 20, 21, 22]) answer(b, { t: 'chat', id: chat.id, h: 'onReceivedMessage', args: [{ id }] });
  assert.deepEqual(got.slice(20), [21, 22]);
});

test('a thread followed with setThread is followed again by a new hub', async () => {
  const { r } = await signedIn();
  const cs = r.startChatSession({ channel, onThreadReceivedMessage: () => {} });
  assert.throws(() => cs.session.setThread({ id: 1 }), TypeError);
  cs.session.setThread({ id: 3, _topics: { messages: '/t/th/3' } });
  assert.equal(cs.session.thread.id, 3);
  const b = port();
  r.attach(b);
  const ts = b.sent.map((m) => m.t);
  assert.ok(ts.indexOf('chat-thread') > ts.indexOf('chat'), ts.join());
});

test('a session the new hub cannot start again leaves the tab signed out', async () => {
  const { r } = await signedIn();
  const b = port();
  r.attach(b);
  const start = b.sent.find((m) => m.t === 'start');
  answer(b, { t: 'ok', id: start.id, r: { succeeded: false, failed: true, error: { error: 'AccessDenied' } } });
  assert.equal(r.currentUser, undefined);
  const c = port();
  r.attach(c);
  assert.equal(c.sent.find((m) => m.t === 'start'), undefined, 'not tried again');
});
