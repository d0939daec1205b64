// Moderation in the app, with the SDK's extensions beyond ChatKitty 1.58.2 (docs/api.md
// §16.1): anyone may report a message to the application's moderators; a moderator of a
// group channel mutes, bans and slows down its members from the conversation header.
// Every refusal is shown as the server words it (e.g. "Only moderators of … can …").
import { h, nameOf, preview } from './dom.js';
import { dialog, titleOf } from './channels.js';

/** Whether the current user moderates `channel`: a group channel they may add moderators to. */
export function moderates(channel) {
  return channel.type !== 'DIRECT' && !!channel._actions?.addModerator;
}

/** A failed result's error as a sentence for people. */
export function errorText(r, fallback) {
  return r?.error?.message || fallback;
}

async function settle(promise) {
  try {
    return await promise;
  } catch (e) {
    return { succeeded: false, error: e };
  }
}

const REASONS = ['Spam', 'Harassment or hate', 'Inappropriate content', 'Something else'];

/** "Report message": a reason, then `flagMessage`. */
export function reportMessage(app, message) {
  const choices = REASONS.map((reason, i) =>
    h('label', { class: 'choice' }, h('input', { type: 'radio', name: 'report-reason', value: reason, checked: i === 0 }), h('span', {}, reason)));
  const details = h('textarea', { id: 'report-details', rows: 2, maxlength: 400, placeholder: 'Anything the moderators should know' });
  dialog('Report message', [
    h('p', { class: 'muted' }, `Tell the moderators what is wrong with ${nameOf(message.user)}’s message:`),
    h('blockquote', { class: 'quoted' }, preview({ ...message, user: undefined }, app.me)),
    h('fieldset', { class: 'choices' }, h('legend', {}, 'Reason'), ...choices),
    h('label', { for: 'report-details' }, 'Details ', h('span', { class: 'muted' }, '(optional)')),
    details,
  ], 'Report', async (form) => {
    const picked = form.querySelector('input[name="report-reason"]:checked').value;
    const more = details.value.trim();
    const r = await settle(app.kitty.flagMessage({ message, reason: more ? `${picked}: ${more}` : picked }));
    if (!r.succeeded) return errorText(r, 'Could not report the message.');
    app.toast('Reported. The moderators will review it.', 'ok');
    return null;
  });
  choices[0].querySelector('input').focus();
}

const DURATIONS = [['600', '10 minutes'], ['3600', '1 hour'], ['86400', '1 day'], ['', 'Until lifted']];
const SLOW = [['0', 'Off'], ['10', '10 seconds'], ['30', '30 seconds'], ['60', '1 minute'], ['300', '5 minutes'], ['900', '15 minutes'], ['3600', '1 hour']];

const select = (id, options, value) => {
  const s = h('select', { id }, ...options.map(([v, label]) => h('option', { value: v }, label)));
  if (value !== undefined) s.value = value;
  return s;
};

/**
 * The moderator's controls for the open conversation: mute, unmute, ban or unban a
 * member (for a while or until lifted) and the channel's slow mode.
 */
export function moderateChannel(conversation) {
  const { app, kitty } = conversation;
  const channel = conversation.channel;
  const others = () => [...conversation.members.values()].filter((u) => u.id !== app.me.id).sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
  const member = h('select', { id: 'moderate-member' });
  const fill = () => {
    const keep = member.value;
    const users = others();
    member.replaceChildren(...(users.length ? users.map((u) => h('option', { value: u.name }, `${nameOf(u)} (@${u.name})`)) : [h('option', { value: '' }, 'Nobody else is here')]));
    if (users.some((u) => u.name === keep)) member.value = keep;
  };
  fill();
  const duration = select('moderate-duration', DURATIONS, '3600');
  const reason = h('input', { id: 'moderate-reason', maxlength: 500, autocomplete: 'off', placeholder: 'e.g. spam' });
  const slow = select('moderate-slow', SLOW, String(conversation.slowModeSeconds ?? 0));
  const status = h('p', { class: 'status ok-text', role: 'status' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const buttons = [];

  /** Runs one moderation call and reports how it went inside the dialog. */
  const run = async (call, request, done) => {
    status.textContent = '';
    error.hidden = true;
    for (const b of buttons) b.disabled = true;
    const r = await settle(kitty[call]({ channel, ...request }));
    for (const b of buttons) b.disabled = false;
    if (!r.succeeded) {
      error.textContent = errorText(r, 'That did not work.');
      error.hidden = false;
      return;
    }
    status.textContent = done;
    if (call === 'setChannelSlowMode') conversation.slowModeSeconds = request.seconds;
  };
  const who = () => {
    const name = member.value;
    if (!name) {
      error.textContent = 'Pick a member first.';
      error.hidden = false;
      return null;
    }
    const u = others().find((x) => x.name === name);
    return { user: { username: name }, label: u ? nameOf(u) : name };
  };
  const seconds = () => (duration.value ? { durationSeconds: Number(duration.value) } : {});
  const forHow = () => (duration.value ? ` for ${DURATIONS.find(([v]) => v === duration.value)[1]}` : ' until you lift it');
  const action = (label, cls, fn) => {
    const b = h('button', { type: 'button', class: `${cls} small`, onclick: fn }, label);
    buttons.push(b);
    return b;
  };
  const memberActions = h(
    'div',
    { class: 'moderation-actions', role: 'group', 'aria-label': 'Member actions' },
    action('Mute', 'ghost', () => {
      const w = who();
      if (w) run('muteChannelMember', { user: w.user, ...seconds() }, `${w.label} is muted${forHow()}: they can read but not post.`);
    }),
    action('Unmute', 'ghost', () => {
      const w = who();
      if (w) run('unmuteChannelMember', { user: w.user }, `${w.label} can post again.`);
    }),
    action('Ban', 'danger', async () => {
      const w = who();
      if (!w) return;
      const why = reason.value.trim();
      await run('banChannelMember', { user: w.user, ...seconds(), ...(why ? { reason: why } : {}) }, `${w.label} is banned${forHow()}: they left the channel and cannot come back.`);
      if (error.hidden) {
        for (const [id, u] of conversation.members) if (u.name === w.user.username) conversation.members.delete(id);
        conversation.renderHead();
        fill();
      }
    }),
    action('Unban', 'ghost', () => {
      const w = who();
      if (w) run('unbanChannelMember', { user: w.user }, `${w.label} may join again.`);
    }),
  );
  const slowAction = action('Set slow mode', 'ghost', () => {
    const s = Number(slow.value);
    run('setChannelSlowMode', { seconds: s }, s ? `Slow mode on: members wait ${SLOW.find(([v]) => v === slow.value)[1]} between messages.` : 'Slow mode is off.');
  });

  const d = dialog(`Moderate #${titleOf(channel, app.me)}`, [
    h('label', { for: 'moderate-member' }, 'Member'),
    member,
    h('div', { class: 'row' },
      h('div', { class: 'grow' }, h('label', { for: 'moderate-duration' }, 'For'), duration),
      h('div', { class: 'grow' }, h('label', { for: 'moderate-reason' }, 'Ban reason ', h('span', { class: 'muted' }, '(optional)')), reason)),
    memberActions,
    h('label', { for: 'moderate-slow' }, 'Slow mode'),
    h('div', { class: 'row' }, slow, slowAction),
    h('p', { class: 'hint muted' }, 'Members wait this long between messages; moderators don’t.'),
    status,
    error,
  ], null, null);
  d.classList.add('moderation');
  member.focus();
  return d;
}
