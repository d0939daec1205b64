// The outbox's decisions (pkg-template/offline.js `Outbox`) in Node, with a store in a
// Map and a scripted `send`: what is written before it is sent, what an answer does to
// an entry, what a later page of the same user finds and sends, what other users see.
// Run: node --test tests/offline/outbox.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { install, OP } from '../../pkg-template/surface.js';
import { Outbox } from '../../pkg-template/offline.js';

install(class {});

/** A store over a Map shared by "pages"; `log` records each operation in order. */
function memoryStore(map = new Map(), log = []) {
  const tick = () => new Promise((r) => setTimeout(r, 1));
  return {
    map,
    log,
    put: async (e) => { await tick(); map.set(e.key, structuredClone(e)); log.push(['put', e.key, e.state]); },
    delete: async (k) => { await tick(); map.delete(k); log.push(['delete', k]); },
    list: async (user) => { await tick(); return [...map.values()].filter((e) => e.user === user).map((e) => structuredClone(e)); },
  };
}

/** A `send` whose answers the test gives: `calls` holds [request, answer(result)]. */
function scriptedSend() {
  const calls = [];
  const send = (request) => new Promise((answer) => calls.push({ request, answer }));
  return { calls, send };
}

const flush = () => new Promise((r) => setTimeout(r, 10));
const channel = { id: 7, _links: {} };
const ok = (id) => ({ succeeded: true, failed: false, message: { id } });
const err = (error) => ({ succeeded: false, failed: true, error: { error, message: error } });

test('an entry is committed before it is sent, sent with its key, removed when stored', async () => {
  const store = memoryStore();
  const s = scriptedSend();
  const o = new Outbox(store, (r) => { store.log.push(['send', r.idempotencyKey]); return s.send(r); });
  await o.signedIn('jane');
  assert.ok(o.takes(OP.sendMessage, { channel, body: 'hi' }));
  const p = o.add({ channel, body: 'hi', unrelated: () => {} });
  assert.equal(s.calls.length, 0, 'not sent before the write committed');
  await flush();
  const key = s.calls[0].request.idempotencyKey;
  assert.deepEqual(store.log, [['put', key, 'pending'], ['send', key]]);
  assert.deepEqual(store.map.get(key).request, { channel, body: 'hi' });
  assert.equal(o.list()[0].state, 'sending');
  s.calls[0].answer(ok(1));
  assert.deepEqual(await p, ok(1));
  await flush();
  assert.equal(store.map.size, 0);
  assert.deepEqual(o.list(), []);
});

test('a timeout keeps the entry pending and it goes again, with the same key, when the connection returns', async () => {
  const store = memoryStore();
  const s = scriptedSend();
  const o = new Outbox(store, s.send);
  await o.signedIn('jane');
  let settled = false;
  const p = o.add({ channel, body: 'later' }).then((r) => ((settled = true), r));
  await flush();
  s.calls[0].answer(err('ChatKittyTimeoutError'));
  await flush();
  assert.equal(settled, false, 'the promise waits for the fate of the message');
  assert.equal(o.list()[0].state, 'pending');
  o.online();
  assert.equal(s.calls.length, 2);
  assert.equal(s.calls[1].request.idempotencyKey, s.calls[0].request.idempotencyKey);
  o.online();
  assert.equal(s.calls.length, 2, 'not sent twice while in flight');
  s.calls[1].answer(ok(5));
  assert.deepEqual(await p, ok(5));
});

test('a refusal fails the entry: kept as failed, the promise resolves failed, discard removes it', async () => {
  const store = memoryStore();
  const s = scriptedSend();
  const o = new Outbox(store, s.send);
  const seen = [];
  o.on((list) => seen.push(list.map((e) => e.state).join()));
  await o.signedIn('jane');
  const p = o.add({ channel, body: 'bad' });
  await flush();
  s.calls[0].answer(err('MessageRejectedError'));
  assert.equal((await p).error.error, 'MessageRejectedError');
  await flush();
  const [entry] = o.list();
  assert.equal(entry.state, 'failed');
  assert.equal(store.map.get(entry.key).state, 'failed');
  o.online();
  assert.equal(s.calls.length, 1, 'a failed entry is not sent again');
  assert.equal(await o.discard(entry.key), true);
  assert.equal(store.map.size, 0);
  assert.deepEqual(seen, ['', 'pending', 'failed', '']);
});

test('a later page of the same user sends what an earlier one left, once; other users never see it', async () => {
  const map = new Map();
  const first = scriptedSend();
  const page1 = new Outbox(memoryStore(map), first.send);
  await page1.signedIn('jane');
  page1.add({ channel, body: 'one' });
  page1.add({ channel, body: 'two' });
  await flush();
  // The page goes away with both in flight, unanswered.
  const keys = first.calls.map((c) => c.request.idempotencyKey);

  const other = scriptedSend();
  const john = new Outbox(memoryStore(map), other.send);
  await john.signedIn('john');
  assert.deepEqual(john.list(), []);
  assert.equal(other.calls.length, 0);

  const second = scriptedSend();
  const page2 = new Outbox(memoryStore(map), second.send);
  await page2.signedIn('jane');
  assert.deepEqual(second.calls.map((c) => c.request.idempotencyKey), keys, 'same keys, oldest first');
  assert.deepEqual(second.calls.map((c) => c.request.body), ['one', 'two']);
  second.calls.forEach((c, i) => c.answer(ok(i)));
  await flush();
  assert.equal(map.size, 0);
});

test('uploads, a session-less page and other calls do not go through the outbox', async () => {
  const o = new Outbox(memoryStore(), scriptedSend().send);
  assert.equal(o.takes(OP.sendMessage, { channel, body: 'x' }), false, 'no session');
  await o.signedIn('jane');
  assert.equal(o.takes(OP.sendMessage, { channel, file: { uri: 'data:,x', name: 'x' } }), false);
  assert.equal(o.takes(OP.sendMessage, { channel, file: new Blob(['x']) }), false);
  assert.equal(o.takes(OP.sendMessage, { channel, file: { url: 'https://x/y.png', name: 'y' } }), true);
  assert.equal(o.takes(OP.sendMessage, { channel, body: 'x', file: { url: 'u' } }), false);
  assert.equal(o.takes(OP.getMessages, { channel }), false);
  assert.equal(o.takes(OP.reactToMessage, { message: { id: 1 }, emoji: 'x' }), false, 'a second reaction is refused');
  assert.equal(o.takes(OP.deleteMessage, { message: { id: 1 } }), false);
});

test('marking read and editing go through the outbox too: kept with their call, sent without a key, again after a lost answer', async () => {
  const map = new Map();
  const store = memoryStore(map);
  const sent = [];
  const s = scriptedSend();
  const o = new Outbox(store, (request, op) => (sent.push([op, request]), s.send(request)));
  await o.signedIn('jane');
  for (const op of [OP.readChannel, OP.readMessage, OP.readThread, OP.editMessage]) assert.ok(o.takes(op, {}), String(op));
  const read = o.add({ channel }, OP.readChannel);
  const edit = o.add({ message: { id: 3 }, body: 'fixed' }, OP.editMessage);
  await flush();
  assert.deepEqual(sent.map(([op]) => op), [OP.readChannel, OP.editMessage]);
  assert.deepEqual(sent[0][1], { channel }, 'no idempotency key: the server has none for these');
  assert.deepEqual(o.list().map((e) => `${e.op}:${e.state}`), ['readChannel:sending', 'editMessage:sending']);
  // The page dies with both in flight: the next page of jane sends them again.
  const next = scriptedSend();
  const page2 = new Outbox(memoryStore(map), (request, op) => (sent.push([op, request]), next.send(request)));
  await page2.signedIn('jane');
  await flush();
  assert.deepEqual(sent.slice(2).map(([op]) => op), [OP.readChannel, OP.editMessage]);
  next.calls[0].answer({ succeeded: true, channel });
  next.calls[1].answer({ succeeded: true, message: { id: 3, body: 'fixed' } });
  await flush();
  assert.equal(map.size, 0);
  s.calls[0].answer({ succeeded: true, channel });
  assert.equal((await read).succeeded, true);
  s.calls[1].answer(err('NotFoundError'));
  assert.equal((await edit).failed, true);
});

test('a store that cannot write fails the send and sends nothing', async () => {
  const s = scriptedSend();
  const store = { ...memoryStore(), put: () => Promise.reject(new Error('QuotaExceededError')) };
  const o = new Outbox(store, s.send);
  await o.signedIn('jane');
  const r = await o.add({ channel, body: 'x' });
  assert.equal(r.error.error, 'ChatKittyOutboxError');
  assert.equal(s.calls.length, 0);
});

test('ending the session resolves this page\'s promises and keeps the entries for the next session', async () => {
  const map = new Map();
  const s = scriptedSend();
  const o = new Outbox(memoryStore(map), s.send);
  await o.signedIn('jane');
  const p = o.add({ channel, body: 'x' });
  await flush();
  await o.signedIn(null);
  assert.equal((await p).error.error, 'ChatKittyConnectionError');
  assert.equal(map.size, 1);
});

test("an app's non-cloneable fields on the channel do not stop the write", async () => {
  const store = memoryStore();
  const s = scriptedSend();
  const o = new Outbox(store, s.send);
  await o.signedIn('jane');
  o.add({ channel: { ...channel, render: () => {} }, body: 'x' });
  await flush();
  assert.equal(s.calls.length, 1);
  assert.deepEqual(store.map.get(s.calls[0].request.idempotencyKey).request.channel, channel);
});
