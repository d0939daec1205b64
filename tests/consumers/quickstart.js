// The seed's quick start, as an app writes it, for every row of the consumer matrix:
// two people, a DIRECT channel, startChatSession with all seven handlers, and one
// action of the other person per handler. Resolves with what each handler saw; the
// runner checks that every handler of jane's fired and reached the right person.
//
// `ChatKitty` is the class the app imported (`import ChatKitty from 'chatkitty-wasm'`);
// `server` is `{apiKey, host, isSecure}`. With `gc` (a function forcing a garbage
// collection), jane's client is made and started inside a function and kept in no
// variable at all, collections are forced, and every handler must still fire. With
// `chat` (and without `gc`), jane and john then exchange a few messages, each
// checking it received the other's in order. `progress(step)` hears each step before
// it is awaited (so a run that hangs can say where).

export const HANDLERS = [
  'onReceivedMessage', 'onReceivedKeystrokes', 'onTypingStarted', 'onTypingStopped',
  'onParticipantEnteredChat', 'onParticipantLeftChat', 'onParticipantPresenceChanged',
];

/**
 * @param {any} ChatKitty the class the app imported
 * @param {{apiKey: string | null, host: string | null, isSecure?: boolean}} server
 * @param {{gc?: () => void, chat?: boolean, progress?: (step: string) => void}} [options]
 */
export async function quickStart(ChatKitty, server, { gc, chat, progress = () => {} } = {}) {
  const tag = Math.random().toString(36).slice(2, 8);
  const names = { jane: `jane-${tag}`, john: `john-${tag}` };
  const config = { apiKey: server.apiKey, host: server.host, isSecure: server.isSecure ?? false };
  const seen = {};
  const waiting = [];
  // Resolves when jane's `handler` has been called about john (with his user, his
  // message or his keystrokes) and, if given, `match(first argument)`.
  const janeSees = (handler, match = () => true) => new Promise((resolve) => {
    progress(`jane waits for ${handler}`);
    const check = () => {
      const calls = seen[handler] ?? [];
      const hit = calls.find((args) => about(args[0]) === names.john && match(args[0]));
      if (hit) resolve(hit);
      return !!hit;
    };
    if (!check()) waiting.push(check);
  });
  const about = (x) => x?.user?.name ?? x?.username ?? x?.name;
  const handlers = {};
  for (const h of HANDLERS) {
    handlers[h] = (...args) => {
      (seen[h] ??= []).push(args);
      for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i]()) waiting.splice(i, 1);
    };
  }
  const must = (result, what) => {
    if (!result?.succeeded) throw new Error(`${what} failed: ${JSON.stringify(result?.error ?? result)}`);
    return result;
  };

  if (ChatKitty.getInstance('quick-start-key') !== ChatKitty.getInstance('quick-start-key')) {
    throw new Error('getInstance returned two objects for one key');
  }

  // john: a client held in a variable, as usual.
  const john = new ChatKitty(config);
  must(await john.startSession({ username: names.john }), 'john startSession');

  // jane: the seed's code. Without `gc` her client lives in this function's scope;
  // with it, only in the function below, which returns nothing that refers to it.
  let janeClient;
  let collected;
  const startJane = async () => {
    const kitty = new ChatKitty(config);
    const result = await kitty.startSession({ username: names.jane });
    must(result, 'jane startSession');
    const created = must(
      await kitty.createChannel({ type: 'DIRECT', members: [{ username: names.john }] }),
      'createChannel',
    );
    const chat = kitty.startChatSession({ channel: created.channel, ...handlers });
    if (!chat.succeeded) throw new Error('startChatSession did not succeed at once');
    await chat; // confirmed by the server: nothing sent after this is missed
    if (gc) collected = new WeakRef(kitty);
    else janeClient = kitty;
    return created.channel;
  };
  const janeChannel = await startJane();
  const channelId = janeChannel.id;
  if (gc) {
    for (let i = 0; i < 5 && collected.deref(); i++) {
      gc();
      await new Promise((r) => setTimeout(r, 0));
    }
    gc();
  }

  const channel = must(await john.getChannel(channelId), 'john getChannel').channel;
  const johnGot = [];
  let johnWaiting;
  const johnChat = john.startChatSession({
    channel,
    onReceivedMessage: (m) => {
      johnGot.push(m.body);
      johnWaiting?.();
    },
  });
  await johnChat;
  await janeSees('onParticipantEnteredChat');
  john.sendKeystrokes({ channel, keys: 'hel' });
  await janeSees('onReceivedKeystrokes');
  await janeSees('onTypingStarted');
  must(await john.sendMessage({ channel, body: 'hi jane' }), 'sendMessage');
  await janeSees('onReceivedMessage');
  await janeSees('onTypingStopped');
  const said = [];
  if (chat && janeClient) {
    for (let i = 1; i <= 3; i++) {
      const heard = new Promise((resolve) => (johnWaiting = () => johnGot.includes(`jane ${i}`) && resolve()));
      must(await janeClient.sendMessage({ channel: janeChannel, body: `jane ${i}` }), 'jane sendMessage');
      await heard;
      must(await john.sendMessage({ channel, body: `john ${i}` }), 'john sendMessage');
      await janeSees('onReceivedMessage', (m) => m.body === `john ${i}`);
      said.push(`jane ${i}`, `john ${i}`);
    }
  }
  johnChat.session.end();
  await janeSees('onParticipantLeftChat');
  await john.endSession();
  await janeSees('onParticipantPresenceChanged');
  if (janeClient) await janeClient.endSession();

  const fired = {};
  for (const h of HANDLERS) fired[h] = (seen[h] ?? []).length;
  const janeGot = seen.onReceivedMessage.map((args) => args[0].body);
  // Each side receives the other's messages, each once and in the order sent.
  const from = (list, who) => JSON.stringify(list.filter((b) => b.startsWith(who)));
  if (from(janeGot, 'john') !== from(said, 'john') || from(johnGot, 'jane') !== from(said, 'jane')) {
    throw new Error(`jane received ${JSON.stringify(janeGot)}, john ${JSON.stringify(johnGot)}`);
  }
  return {
    fired,
    received: janeGot,
    instanceCollected: gc ? collected.deref() === undefined : null,
  };
}

/** `{apiKey, host, isSecure}` from the page's query string (`?host=…&key=…`). */
export function serverFromLocation() {
  const q = new URLSearchParams(globalThis.location?.search ?? '');
  return { apiKey: q.get('key'), host: q.get('host'), isSecure: false };
}
