// updateCurrentUser (function form), onCurrentUserChanged, and the other user seeing it.
import { assert, eq } from '../lib.mjs';

export default {
  name: 'current-user',
  async run({ jane, john }) {
    await jane.startSession();
    await john.startSession();
    const { channel } = await jane.call('createChannel', { type: 'DIRECT', members: [{ username: john.username }] });
    await john.enterChat((await john.call('getChannel', channel.id)).channel);
    await john.observe('onUserPresenceChanged');

    const me = await jane.call('getCurrentUser');
    assert(me.succeeded, 'getCurrentUser');
    eq(me.user.name, jane.username, 'getCurrentUser name');

    // The update function gets the current user and returns the user to save.
    const updated = await jane.page.evaluate(async () => {
      const r = await window.harness.kitty.updateCurrentUser((user) => {
        user.displayName = 'Jane Doe';
        user.properties = { ...user.properties, team: 'blue' };
        return user;
      });
      return { succeeded: r.succeeded, user: r.user, error: r.error };
    });
    assert(updated.succeeded, `updateCurrentUser: ${JSON.stringify(updated.error)}`);
    eq([updated.user.displayName, updated.user.properties.team], ['Jane Doe', 'blue'], 'updated fields');
    const changed = (await jane.log()).filter((e) => e.handler === 'onCurrentUserChanged').map((e) => e.args[0]?.displayName);
    assert(changed.includes('Jane Doe'), `onCurrentUserChanged saw the update: ${changed}`);

    // John sees the new profile.
    const seen = await john.call('getUser', updated.user.id);
    eq([seen.user.displayName, seen.user.properties.team], ['Jane Doe', 'blue'], 'john sees the update');

    // A presence status change reaches john.
    await jane.page.evaluate(() => window.harness.kitty.updateCurrentUser((u) => { u.presence = { ...u.presence, status: 'AWAY' }; return u; }));
    const [p] = await john.waitFor('onParticipantPresenceChanged', (u) => u.name === jane.username && u.presence.status === 'AWAY');
    eq(p.presence.online, true, 'away but online');
    await john.waitFor('onUserPresenceChanged', (u) => u.name === jane.username && u.presence.status === 'AWAY');

    // Validation.
    const bad = await jane.page.evaluate(async () => {
      const r = await window.harness.kitty.updateCurrentUser((u) => { u.displayName = ''; return u; });
      return { failed: r.failed, error: r.error };
    });
    eq([bad.failed, bad.error?.error], [true, 'ValidationError'], 'empty display name refused');
  },
};
