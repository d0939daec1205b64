// reactToMessage / removeReaction, live to the other user; getReactions; summaries.
import { assert, eq } from '../lib.mjs';

export default {
  name: 'reactions',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    const johnView = (await john.call('getChannel', channel.id)).channel;
    await jane.enterChat(channel);
    const { message } = await jane.call('sendMessage', { channel, body: 'react to me' });

    const added = await john.call('reactToMessage', { message, emoji: '+1' });
    assert(added.succeeded, `reactToMessage: ${JSON.stringify(added.error)}`);
    eq([added.reaction.emoji.character, added.reaction.user.name], ['👍', john.username], 'reaction');
    const [m, reaction] = await jane.waitFor('onMessageReactionAdded', (mm, r) => r.user.name === john.username);
    eq([m.id, reaction.emoji.aliases.includes('thumbsup')], [message.id, true], 'jane sees it');
    await john.call('reactToMessage', { message, emoji: ':heart:' });
    await jane.call('reactToMessage', { message, emoji: '❤️' });
    const list = await jane.call('getReactions', { message });
    eq(list.paginator.items.map((r) => r.emoji.character), ['👍', '❤️', '❤️'], 'getReactions');
    const page = await jane.call('getMessages', { channel });
    const summary = page.paginator.items.find((x) => x.id === message.id).reactions;
    eq(summary.map((s) => [s.emoji.character, s.count]), [['👍', 1], ['❤️', 2]], 'summary');

    const bad = await john.call('reactToMessage', { message, emoji: 'not-an-emoji' });
    eq(bad.error?.error, 'ValidationError', 'emoji validated');
    const removed = await john.call('removeReaction', { message, emoji: '+1' });
    assert(removed.succeeded, `removeReaction: ${JSON.stringify(removed.error)}`);
    await jane.waitFor('onMessageReactionRemoved', (mm, r) => r.user.name === john.username && r.emoji.character === '👍');
    const missing = await john.call('removeReaction', { message, emoji: '+1' });
    eq(missing.error?.error, 'NotFoundError', 'removing twice');
    assert(johnView, 'view');
  },
};
