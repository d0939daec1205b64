// The message composer: a growing textarea (Enter sends, Shift+Enter is a new line),
// `@name` autocomplete that inserts `<@username>` mentions, a file button, drag and
// drop and pasted images.
import { h, avatar, nameOf, icon } from './dom.js';

let ids = 0;

/**
 * @param {object} o
 * @param {string} o.label accessible name of the text box
 * @param {() => Promise<object[]>} o.people who can be mentioned
 * @param {(body: string) => void} o.onSend
 * @param {(files: File[]) => void} o.onFiles
 * @param {(draft: string) => void} [o.onDraft]
 */
export function createComposer({ label, placeholder, people, onSend, onFiles, onDraft = () => {} }) {
  const n = ++ids;
  const input = h('textarea', {
    id: `composer-${n}`, rows: 1, placeholder, enterkeyhint: 'send', autocomplete: 'off',
    'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': `mentions-${n}`,
    'aria-describedby': `composer-hint-${n}`,
  });
  const file = h('input', { type: 'file', multiple: true, class: 'sr-only', id: `attach-${n}` });
  const listbox = h('ul', { class: 'mention-list', role: 'listbox', id: `mentions-${n}`, 'aria-label': 'People to mention', hidden: true });
  const send = h('button', { type: 'submit', class: 'primary send' }, icon('send'), h('span', { class: 'send-label' }, 'Send'));
  const form = h(
    'form',
    { class: 'composer', onsubmit: (e) => { e.preventDefault(); submit(); } },
    listbox,
    h(
      'div',
      { class: 'composer-box' },
      h('label', { class: 'attach', for: `attach-${n}`, title: 'Attach files' }, icon('attach'), h('span', { class: 'sr-only' }, 'Attach files')),
      file,
      h('label', { for: `composer-${n}`, class: 'sr-only' }, label),
      input,
      send,
    ),
    h('p', { class: 'composer-hint muted small', id: `composer-hint-${n}` }, 'Enter to send, Shift+Enter for a new line, @ to mention'),
  );

  let options = [];
  let selected = 0;
  let mention = null; // {start, end, query}

  function submit() {
    const body = input.value.trim();
    if (!body) return;
    input.value = '';
    grow();
    closeMentions();
    onDraft('');
    onSend(body);
  }

  function grow() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 180)}px`;
  }

  async function updateMentions() {
    const caret = input.selectionStart;
    const before = input.value.slice(0, caret);
    const m = before.match(/(^|\s)@([\w.@-]*)$/);
    if (!m || input.selectionEnd !== caret) return closeMentions();
    const query = m[2].toLowerCase();
    const at = { start: caret - m[2].length - 1, end: caret, query };
    mention = at;
    const all = await people();
    if (mention !== at) return;
    options = all
      .filter((u) => u.name.toLowerCase().includes(query) || nameOf(u).toLowerCase().includes(query))
      .sort((a, b) => Number(!a.name.toLowerCase().startsWith(query)) - Number(!b.name.toLowerCase().startsWith(query)))
      .slice(0, 6);
    if (!options.length) return closeMentions(false);
    selected = Math.min(selected, options.length - 1);
    renderMentions();
  }

  function renderMentions() {
    listbox.replaceChildren(
      ...options.map((u, i) =>
        h(
          'li',
          {
            role: 'option', id: `mention-${n}-${i}`, 'aria-selected': i === selected ? 'true' : 'false',
            class: i === selected ? 'selected' : '',
            onmousedown: (e) => { e.preventDefault(); pick(i); },
          },
          avatar(u, 'sm'), h('span', {}, nameOf(u)), h('span', { class: 'muted small' }, `@${u.name}`),
        )),
    );
    listbox.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    input.setAttribute('aria-activedescendant', `mention-${n}-${selected}`);
  }

  function closeMentions(forget = true) {
    if (forget) mention = null;
    options = [];
    selected = 0;
    listbox.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  function pick(i) {
    const u = options[i];
    if (!u || !mention) return;
    const tag = `<@${u.name}> `;
    input.setRangeText(tag, mention.start, mention.end, 'end');
    closeMentions();
    input.focus();
    onDraft(input.value);
  }

  input.addEventListener('keydown', (e) => {
    if (!listbox.hidden && options.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        selected = (selected + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length;
        renderMentions();
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        pick(selected);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        closeMentions();
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener('input', () => {
    grow();
    onDraft(input.value);
    updateMentions();
  });
  input.addEventListener('click', updateMentions);
  input.addEventListener('blur', () => setTimeout(() => closeMentions(), 150));
  input.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (files.length) {
      e.preventDefault();
      onFiles(files);
    }
  });
  file.addEventListener('change', () => {
    const files = [...file.files];
    file.value = '';
    if (files.length) onFiles(files);
  });

  return {
    el: form,
    input,
    focus: () => input.focus(),
  };
}
