// The cache's decisions (pkg-template/offline.js `Cache`) in Node, with a store in a Map:
// what it keeps, within which bounds, for whom, and when it answers a read.
// Run: node --test tests/offline/cache.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { install, OP } from '../../pkg-template/surface.js';
import { Cache, MESSAGES, CHANNELS, USERS, attach } from '../../pkg-template/offline.js';

install(class {});

function memoryStore(map = new Map()) {
  const k = (u, n) => `${u}\n${n}`;
  return {
    map,
    cacheRead: async (user) => [...map].filter(([key]) => key.startsWith(`${user}\n`)).map(([key, value]) => ({ name: key.split('\n')[1], value: structuredClone(value) })),
    cachePut: async (user, name, value) => void map.set(k(user, name), structuredClone(value)),
    cacheUsers: async () => {
      const users = [...new Set([...map.keys()].map((key) => key.split('\n')[0]))];
      return users.map((user) => ({ user, time: map.get(k(user, '@'))?.time ?? 0 }));
    },
    cacheDelete: async (user, name) => {
      for (const key of [...map.keys()]) if (user == null || (name == null ? key.startsWith(`${user}\n`) : key === k(user, name))) map.delete(key);
    },
  };
}

const page = (items) => ({ succeeded: true, paginator: { items } });
const channel = (id) => ({ id, name: `c${id}` });
const msg = (id, body = `m${id}`) => ({ id, body });
let clock = 1000;
const now = () => ++clock;

test('keeps the channel list and the newest messages of a channel, answers from them only while offline', async () => {
  const store = memoryStore();
  const c = new Cache(store, now);
  await c.signedIn('jane');
  c.seen(OP.getChannels, undefined, page([channel(1), channel(2)]));
  c.seen(OP.getMessages, { channel: channel(1) }, page([msg(3), msg(2), msg(1)]));
  c.seen(OP.getMessages, { channel: channel(2), filter: { search: 'x' } }, page([msg(9)]));
  c.seen(OP.getChannels, { filter: { joined: false } }, page([channel(5)]));
  assert.equal(c.answer(OP.getMessages, { channel: channel(1) }), undefined, 'online: the server answers');
  c.online = false;
  const r = c.answer(OP.getMessages, { channel: channel(1) });
  assert.equal(r.cached, true);
  assert.deepEqual(r.paginator.items.map((m) => m.id), [3, 2, 1]);
  await assert.rejects(r.paginator.nextPage(), { name: 'PageOutOfBoundsError' });
  assert.deepEqual(c.answer(OP.getChannels).paginator.items.map((x) => x.id), [1, 2]);
  assert.equal(c.answer(OP.getMessages, { channel: channel(2) }), undefined, 'a filtered read is not cached');
  assert.equal(c.answer(OP.getChannels, { filter: { joined: false } }), undefined);
  assert.equal(c.answer(OP.getUsers), undefined);
});

test('live messages join their channel once, in order, within the bound; the list gets its last message', async () => {
  const c = new Cache(memoryStore(), now);
  await c.signedIn('jane');
  c.seen(OP.getChannels, undefined, page([channel(1)]));
  c.seen(OP.getMessages, { channel: channel(1) }, page([msg(2), msg(1)]));
  c.message(channel(1), msg(4));
  c.message(channel(1), msg(3));
  c.message(channel(1), msg(4));
  c.seen(OP.sendMessage, { channel: channel(1), body: 'm5' }, { succeeded: true, message: msg(5) });
  c.online = false;
  assert.deepEqual(c.answer(OP.getMessages, { channel: channel(1) }).paginator.items.map((m) => m.id), [5, 4, 3, 2, 1]);
  assert.equal(c.answer(OP.getChannels).paginator.items[0].lastReceivedMessage.id, 5);
  for (let i = 6; i < 6 + MESSAGES; i++) c.message(channel(1), msg(i));
  const items = c.answer(OP.getMessages, { channel: channel(1) }).paginator.items;
  assert.equal(items.length, MESSAGES);
  assert.equal(items[0].id, 5 + MESSAGES);
});

test('only the channels read most recently are kept', async () => {
  const store = memoryStore();
  const c = new Cache(store, now);
  await c.signedIn('jane');
  for (let id = 1; id <= CHANNELS + 3; id++) c.seen(OP.getMessages, { channel: channel(id) }, page([msg(id)]));
  await new Promise((r) => setTimeout(r, 5));
  const kept = [...store.map.keys()].filter((k) => k.includes('\nm:')).map((k) => Number(k.split(':')[1])).sort((a, b) => a - b);
  assert.equal(kept.length, CHANNELS);
  assert.equal(kept[0], 4, 'the three oldest went');
});

test('per user: another user neither reads nor is answered from it; ending the session clears it; clear()', async () => {
  const map = new Map();
  const jane = new Cache(memoryStore(map), now);
  await jane.signedIn('jane');
  jane.seen(OP.getChannels, undefined, page([channel(1)]));
  jane.seen(OP.getCurrentUser, undefined, { succeeded: true, user: { name: 'jane' } });
  await new Promise((r) => setTimeout(r, 5));
  // A later page, before any session: what jane's cache holds, for jane only.
  const later = new Cache(memoryStore(map), now);
  assert.deepEqual((await later.read('jane')).channels.map((x) => x.id), [1]);
  assert.equal((await later.read('jane')).user.name, 'jane');
  assert.deepEqual(await later.read('john'), { user: null, channels: [], messages: {}, mainThreadMessages: {}, cachedTime: null });
  await later.signedIn('john');
  later.online = false;
  assert.equal(later.answer(OP.getChannels), undefined);
  await later.signedIn(null);
  assert.equal((await later.read('jane')).channels.length, 1, "john's session ending leaves jane's cache");
  await later.signedIn('jane');
  await later.signedIn(null);
  assert.deepEqual((await later.read('jane')).channels, [], 'ending the session cleared it');
  const c = new Cache(memoryStore(map), now);
  await c.signedIn('ann');
  c.seen(OP.getChannels, undefined, page([channel(1)]));
  await c.clear();
  assert.deepEqual((await c.read('ann')).channels, []);
});

test('a profile keeps the caches of the USERS users signed in most recently; the current one always', async () => {
  const map = new Map();
  const c = new Cache(memoryStore(map), now);
  const users = Array.from({ length: USERS + 2 }, (_, i) => `u${i}`);
  for (const u of users) {
    await c.signedIn(u);
    c.seen(OP.getChannels, undefined, page([channel(1)]));
  }
  await new Promise((r) => setTimeout(r, 5));
  const kept = [];
  for (const u of users) if ((await c.read(u)).channels.length) kept.push(u);
  assert.deepEqual(kept, users.slice(2), 'the two signed in longest ago are gone');
  // Signing in again makes a user the most recent.
  await c.signedIn('u2');
  await c.signedIn('n1');
  c.seen(OP.getChannels, undefined, page([channel(1)]));
  await new Promise((r) => setTimeout(r, 5));
  assert.equal((await c.read('u2')).channels.length, 1, 'u2 signed in again: kept');
  assert.equal((await c.read('u3')).channels.length, 0, 'u3 now the oldest: gone');
  assert.equal((await c.read('n1')).user, null, 'the marker is no record an app sees');
});

test('the joined-channels filter is the channel list; a main-thread page is kept apart and not given live messages', async () => {
  const c = new Cache(memoryStore(), now);
  await c.signedIn('jane');
  c.seen(OP.getChannels, { filter: { joined: true } }, page([channel(1)]));
  c.seen(OP.getMessages, { channel: channel(1), filter: { mainThread: true } }, page([msg(2), msg(1)]));
  c.message(channel(1), msg(3));
  c.online = false;
  assert.deepEqual(c.answer(OP.getChannels).paginator.items.map((x) => x.id), [1]);
  assert.deepEqual(c.answer(OP.getChannels, { filter: { joined: true } }).paginator.items.map((x) => x.id), [1]);
  assert.deepEqual(c.answer(OP.getMessages, { channel: channel(1), filter: { mainThread: true } }).paginator.items.map((m) => m.id), [2, 1]);
  assert.equal(c.answer(OP.getMessages, { channel: channel(1), filter: { mainThread: true, x: 1 } }), undefined);
  assert.equal(c.answer(OP.getMessages, { channel: channel(1) }), undefined);
  assert.deepEqual(Object.keys((await c.read('jane')).mainThreadMessages), ['1']);
});

test("a chat session's handler gets every argument (a reply's parent) and the cache the message", async () => {
  const core = { currentUser: null, _on: () => () => {}, _call: () => Promise.resolve({ succeeded: true }) };
  const x = attach({ _config: { apiKey: 'k' } }, core, { ...memoryStore(), list: async () => [] });
  await x.signedIn('jane');
  const got = [];
  const r = x.chat({ channel: channel(1), onMessageReceived: (...a) => got.push(a) });
  r.onReceivedMessage(msg(2), msg(1));
  assert.deepEqual(got, [[msg(2), msg(1)]]);
  assert.equal(r.onMessageReceived, undefined);
  const plain = { channel: channel(1) };
  assert.equal(x.chat(plain), plain, 'no handler: the request as it was');
});
