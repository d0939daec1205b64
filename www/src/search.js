// Message search in the sidebar, with the SDK's `searchMessages` (an extension beyond
// ChatKitty 1.58.2, docs/api.md §8): every word must occur in a message of one of your
// channels; results come newest first, and a click opens the message's channel.
import { h, avatar, nameOf, preview, shortTime, icon } from './dom.js';
import { dialog, titleOf } from './channels.js';

export function searchBox(app) {
  const input = h('input', { id: 'search-messages', type: 'search', name: 'query', maxlength: 256, autocomplete: 'off', placeholder: 'Search messages', 'aria-label': 'Search messages' });
  return h(
    'form',
    {
      class: 'search',
      role: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        const query = input.value.trim();
        if (query) showResults(app, query);
      },
    },
    h('span', { class: 'search-icon' }, icon('search')),
    input,
  );
}

async function settle(promise) {
  try {
    return await promise;
  } catch (e) {
    return { succeeded: false, error: e };
  }
}

/** The results of one search, in a dialog; "More results" pages on. */
async function showResults(app, query) {
  const list = h('ul', { class: 'search-results', 'aria-label': 'Messages found', 'aria-busy': 'true' }, h('li', { class: 'muted' }, 'Searching…'));
  const more = h('button', { type: 'button', class: 'ghost small', hidden: true }, 'More results');
  const d = dialog(`Messages with “${query}”`, [list, more], null, null);
  d.classList.add('wide-dialog');
  let page = null;
  let shown = 0;

  const item = (m) => {
    const channel = app.channels?.get(m.channelId);
    const where = channel ? (channel.type === 'DIRECT' ? titleOf(channel, app.me) : `#${titleOf(channel, app.me)}`) : 'a conversation';
    const open = h(
      'button',
      {
        type: 'button',
        class: 'search-result',
        'data-channel-id': String(m.channelId),
        onclick: () => {
          d.close();
          app.open(channel || m.channelId);
        },
      },
      avatar(m.user || { name: '🐱' }, 'sm'),
      h(
        'span',
        { class: 'grow' },
        h('span', { class: 'search-meta small' }, h('strong', {}, m.user ? nameOf(m.user) : 'Kitty Chat'), ` in ${where} · `, h('time', { class: 'muted', datetime: m.createdTime }, shortTime(m.createdTime))),
        h('span', { class: 'search-text block' }, preview({ ...m, user: undefined }, app.me)),
      ),
    );
    return h('li', {}, open);
  };

  const load = async (first) => {
    more.disabled = true;
    const r = first ? await settle(app.kitty.searchMessages({ query })) : await settle(page.nextPage().then((p) => ({ succeeded: true, paginator: p })));
    more.disabled = false;
    if (!d.isConnected) return;
    list.removeAttribute('aria-busy');
    if (!r.succeeded) {
      if (first) list.replaceChildren();
      list.append(h('li', { class: 'error', role: 'alert' }, r.error?.message || 'The search failed.'));
      more.hidden = true;
      return;
    }
    page = r.paginator;
    if (first) list.replaceChildren();
    for (const m of page.items) list.append(item(m));
    shown += page.items.length;
    more.hidden = !page.hasNextPage;
    if (!page.hasNextPage && !shown) list.append(h('li', { class: 'muted' }, `No message has every word of “${query}”. Whole words only; accents count.`));
  };
  more.addEventListener('click', () => load(false));
  await load(true);
}
