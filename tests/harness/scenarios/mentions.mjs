// <@user> and <#channel> mentions and links, with UTF-16 positions.
import { eq, unique } from '../lib.mjs';

export default {
  name: 'mentions',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const room = unique('room');
    const pub = (await jane.call('createChannel', { type: 'PUBLIC', name: room })).channel;
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    const body = `😀 <@${john.username}> see <#${room}> at https://example.com/x.`;
    const sent = await jane.call('sendMessage', { channel, body });
    const m = sent.message;
    eq(m.mentions.map((x) => x.type), ['USER', 'CHANNEL'], 'mention types');
    const user = m.mentions[0];
    eq([user.tag, user.user.name], [`<@${john.username}>`, john.username], 'user mention');
    eq(body.slice(user.startPosition, user.endPosition), user.tag, 'UTF-16 positions (emoji first)');
    const ch = m.mentions[1];
    eq([ch.channel.id, body.slice(ch.startPosition, ch.endPosition)], [pub.id, `<#${room}>`], 'channel mention');
    const link = m.links[0];
    eq([link.source, body.slice(link.startPosition, link.endPosition)], ['https://example.com/x', 'https://example.com/x'], 'link');
  },
};
