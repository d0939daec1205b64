// DOM helpers. Everything the server or another person sends is put on the page as
// text nodes or attribute values, never parsed as HTML: there is no innerHTML here.

/** `h('button', {class: 'x', onclick}, 'text', child)`: an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Only http(s) and same-origin URLs become links or image sources. */
export function safeUrl(url) {
  try {
    const u = new URL(url, location.href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

export function nameOf(user) {
  return user?.displayName || user?.name || 'Someone';
}

export function initials(user) {
  const n = nameOf(user).trim();
  return (n[0] || '?').toUpperCase();
}

/** An avatar: the user's picture, with their initial underneath while it loads. */
export function avatar(user, size = 'md') {
  const el = h('span', { class: `avatar ${size}`, 'aria-hidden': 'true' }, initials(user));
  const src = user?.displayPictureUrl && safeUrl(user.displayPictureUrl);
  if (src) {
    const img = h('img', { alt: '', src, loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => img.remove());
    el.append(img);
  }
  return el;
}

const timeFmt = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat([], { weekday: 'long', month: 'short', day: 'numeric' });
const shortDayFmt = new Intl.DateTimeFormat([], { month: 'short', day: 'numeric' });

export function clock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : timeFmt.format(d);
}

export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(iso) {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 864e5);
  if (dayKey(d) === dayKey(today)) return 'Today';
  if (dayKey(d) === dayKey(yesterday)) return 'Yesterday';
  return dayFmt.format(d);
}

/** "10:42" today, "Mon" this week, "Nov 3" before. */
export function shortTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  if (dayKey(d) === dayKey(new Date())) return timeFmt.format(d);
  if (Date.now() - d.getTime() < 6 * 864e5) return d.toLocaleDateString([], { weekday: 'short' });
  return shortDayFmt.format(d);
}

export function bytes(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * A message body as nodes: plain text, `<@user>` mentions (from the server's
 * `mentions`) as highlighted names, and the server's `links` as anchors. Positions are
 * UTF-16 offsets, like JavaScript string indices.
 */
export function bodyNodes(message, me) {
  const body = message.body ?? '';
  const spans = [];
  for (const m of message.mentions || []) {
    let start = m.startPosition;
    let end = m.endPosition;
    if (body.slice(start, end) !== m.tag) {
      start = body.indexOf(m.tag);
      end = start + (m.tag?.length || 0);
    }
    if (start >= 0 && end > start) spans.push({ start, end, mention: m });
  }
  for (const l of message.links || []) {
    if (l.startPosition >= 0 && l.endPosition > l.startPosition) spans.push({ start: l.startPosition, end: l.endPosition, link: l });
  }
  spans.sort((a, b) => a.start - b.start);
  const out = [];
  let at = 0;
  for (const s of spans) {
    if (s.start < at) continue; // overlapping: keep the first
    if (s.start > at) out.push(body.slice(at, s.start));
    const text = body.slice(s.start, s.end);
    if (s.mention) {
      const m = s.mention;
      const label = m.type === 'USER' ? `@${nameOf(m.user) || text}` : `#${m.channel?.displayName || m.channel?.name || text}`;
      const self = m.type === 'USER' && me && m.user?.id === me.id;
      out.push(h('span', { class: self ? 'mention self' : 'mention', title: m.type === 'USER' ? m.user?.name : undefined }, label));
    } else {
      const href = safeUrl(s.link.source || text);
      out.push(href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, text) : text);
    }
    at = s.end;
  }
  if (at < body.length) out.push(body.slice(at));
  return out;
}

/** The one-line preview of a message, for the channel list. */
export function preview(message, me) {
  if (!message) return '';
  const who = message.user ? (message.user.id === me?.id ? 'You: ' : `${nameOf(message.user)}: `) : '';
  if (message.deletedTime) return `${who}message deleted`;
  if (message.file) return `${who}📎 ${message.file.name}`;
  const text = (message.body || '').replace(/<@([^>\s]+)>/g, '@$1').replace(/<#([^>\s]+)>/g, '#$1');
  return who + text.replace(/\s+/g, ' ').trim();
}

// Icons as inline SVG built node by node (24×24, stroked), so they look the same
// whatever emoji fonts the system has.
const ICONS = {
  attach: 'M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9',
  send: 'M4 12l16-8-6 16-2.5-6.5L4 12z',
  smile: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM8.5 14.5a4.5 4.5 0 0 0 7 0M9 9.5h.01M15 9.5h.01',
  reply: 'M9 14L4 9l5-5M4 9h10a6 6 0 0 1 6 6v4',
  edit: 'M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4',
  trash: 'M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3',
  close: 'M6 6l12 12M18 6L6 18',
  back: 'M15 5l-7 7 7 7',
  thread: 'M4 5h16v11H9l-5 4V5z',
  file: 'M14 3H6v18h12V7l-4-4zM14 3v4h4',
  lock: 'M6 11h12v9H6zM8.5 11V8a3.5 3.5 0 0 1 7 0v3',
  hash: 'M5 9h15M4 15h15M10 4L8 20M16 4l-2 16',
  plus: 'M12 5v14M5 12h14',
  check: 'M5 12.5l4.5 4.5L19 7.5',
  checks: 'M2 12.5l4.5 4.5L16 7.5M10 16l1 1 9.5-9.5',
  flag: 'M5 21V4M5 4h12l-2.5 4.5L17 13H5',
  shield: 'M12 3l8 3v6c0 4.5-3.4 8-8 9-4.6-1-8-4.5-8-9V6l8-3z',
  search: 'M10.5 18a7.5 7.5 0 1 0 0-15 7.5 7.5 0 0 0 0 15zM16 16l5 5',
};
export function icon(name, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon-svg icon-${name}`);
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}
