// Hand-written SVG plots from bench/results/*.json (no plotting dependency):
// fanout-rate.svg and fanout-latency.svg (ours vs RabbitMQ Web-STOMP and NATS by channel
// size; -pinned.svg from the pinned runs),
// session-start.svg (distribution of session start times, ours vs official).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS } from './common.mjs';

const COLORS = { ours: '#d9480f', official: '#1c7ed6', rabbitmq: '#5c940d', ours2: '#f59f00', rabbitmq2: '#94d82d', nats: '#7048e8' };
const W = 720;
const H = 420;
const M = { l: 80, r: 20, t: 50, b: 60 };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const read = (name) => {
  const p = join(RESULTS, `${name}.json`);
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : null;
};

function niceTicks(max, n = 5) {
  const step0 = max / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= step0);
  const ticks = [];
  for (let v = 0; v <= max * 1.0001 + step; v += step) { ticks.push(v); if (v >= max) break; }
  return ticks;
}

function fmt(v) {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

function frame(title, ylabel, xlabel) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text transform="translate(18 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(ylabel)}</text>`,
    `<text x="${(M.l + W - M.r) / 2}" y="${H - 14}" text-anchor="middle">${esc(xlabel)}</text>`,
  ];
}

function yAxis(out, ticks, y) {
  for (const t of ticks) {
    out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y(t)}" y2="${y(t)}" stroke="#e9ecef"/>`);
    out.push(`<text x="${M.l - 6}" y="${y(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<line x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${H - M.b}" stroke="#495057"/>`);
  out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#495057"/>`);
}

function legend(out, items) {
  items.forEach(([label, color], i) => {
    const x = M.l + 10 + i * 190;
    out.push(`<rect x="${x}" y="${M.t - 18}" width="12" height="12" fill="${color}"/>`);
    out.push(`<text x="${x + 18}" y="${M.t - 8}">${esc(label)}</text>`);
  });
}

/** Grouped bars: groups × series, values[g][s] (null = not measured). */
function bars(title, ylabel, xlabel, groups, series, values) {
  const out = frame(title, ylabel, xlabel);
  const max = Math.max(1e-9, ...values.flat().filter((v) => v != null));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1];
  const y = (v) => H - M.b - (v / top) * (H - M.t - M.b);
  yAxis(out, ticks, y);
  legend(out, series);
  const gw = (W - M.l - M.r) / groups.length;
  const bw = (gw * 0.7) / series.length;
  groups.forEach((g, gi) => {
    const x0 = M.l + gi * gw + gw * 0.15;
    series.forEach(([, color], si) => {
      const v = values[gi][si];
      const x = x0 + si * bw;
      if (v == null) {
        out.push(`<text x="${x + bw / 2}" y="${H - M.b - 4}" text-anchor="middle" fill="#868e96">n/a</text>`);
        return;
      }
      out.push(`<rect x="${x}" y="${y(v)}" width="${bw - 2}" height="${H - M.b - y(v)}" fill="${color}"/>`);
      out.push(`<text x="${x + bw / 2}" y="${y(v) - 4}" text-anchor="middle" font-size="11">${fmt(v)}</text>`);
    });
    out.push(`<text x="${M.l + gi * gw + gw / 2}" y="${H - M.b + 18}" text-anchor="middle">${esc(g)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Empirical CDFs: series of [label, color, values]. */
function cdf(title, xlabel, series, xmaxQuantile = 0.99) {
  const out = frame(title, 'fraction of sessions', xlabel);
  const all = series.flatMap(([, , v]) => v).sort((a, b) => a - b);
  const xmax = Math.max(1e-9, all[Math.floor(all.length * xmaxQuantile) - 1] * 1.1 || 1);
  const ticks = niceTicks(xmax);
  const right = ticks[ticks.length - 1];
  const x = (v) => M.l + (Math.min(v, right) / right) * (W - M.l - M.r);
  const y = (f) => H - M.b - f * (H - M.t - M.b);
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y(f)}" y2="${y(f)}" stroke="#e9ecef"/>`);
    out.push(`<text x="${M.l - 6}" y="${y(f) + 4}" text-anchor="end">${f}</text>`);
  }
  for (const t of ticks) out.push(`<text x="${x(t)}" y="${H - M.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
  out.push(`<line x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${H - M.b}" stroke="#495057"/>`);
  out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#495057"/>`);
  legend(out, series.map(([l, c]) => [l, c]));
  for (const [, color, values] of series) {
    const s = [...values].sort((a, b) => a - b);
    const pts = s.map((v, i) => `${x(v).toFixed(1)},${y((i + 1) / s.length).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${x(s[0]).toFixed(1)},${y(0)} ${pts.join(' ')}"/>`);
  }
  out.push(`<text x="${W - M.r}" y="${M.t + 14}" text-anchor="end" fill="#868e96">x axis cut at p${Math.round(xmaxQuantile * 100)}</text>`);
  out.push('</svg>');
  return out.join('\n');
}

const written = [];
const save = (name, svg) => { writeFileSync(join(RESULTS, name), `${svg}\n`); written.push(name); };

// Fan-out plots, unpinned (fanout-*.svg) and pinned (fanout-*-pinned.svg: server on
// one core, load generator on the other).
for (const [sfx, how] of [['', ''], ['-pinned', ', pinned: server on one core']]) {
  const ours = read(`load-fanout-ours${sfx}`);
  const rabbit = read(`load-fanout-rabbitmq${sfx}`);
  const nats = read(`load-fanout-nats${sfx}`);
  if (!ours) continue;
  const sizes = ours.sizes.map((s) => s.members);
  const find = (doc, m) => doc?.sizes.find((s) => s.members === m);
  const groups = sizes.map((m) => `${m} members`);
  save(`fanout-rate${sfx}.svg`, bars(`Fan-out: highest delivery rate kept up with (median of ${ours.runs} runs${how})`, 'deliveries per second', 'channel size',
    groups, [['chatkitty-server', COLORS.ours], ['RabbitMQ Web-STOMP', COLORS.rabbitmq], ...(nats ? [['NATS (WebSocket)', COLORS.nats]] : [])],
    sizes.map((m) => [find(ours, m)?.max_deliveries_per_s_kept_up ?? null, find(rabbit, m)?.max_deliveries_per_s_kept_up ?? null,
      ...(nats ? [find(nats, m)?.max_deliveries_per_s_kept_up ?? null] : [])])));
  save(`fanout-latency${sfx}.svg`, bars(`Fan-out: send → receive latency at that rate (ms, median of runs${how})`, 'milliseconds', 'channel size',
    groups, [['ours p50', COLORS.ours2], ['ours p99', COLORS.ours], ['RabbitMQ p50', COLORS.rabbitmq2], ['RabbitMQ p99', COLORS.rabbitmq]],
    sizes.map((m) => {
      const a = find(ours, m);
      const b = find(rabbit, m);
      return [a?.latency_ms_p50_at_max ?? null, a?.latency_ms_p99_at_max ?? null, b?.latency_ms_p50_at_max ?? null, b?.latency_ms_p99_at_max ?? null];
    })));
}
const session = read('session');
if (session) {
  save('session-start.svg', cdf(`Session start in headless Chromium (${session.sessions_per_client} sessions each)`, 'milliseconds from startSession() to its result',
    [['ours (chatkitty-wasm)', COLORS.ours, session.clients.ours.samples_ms], ['official chatkitty@1.58.2', COLORS.official, session.clients.official.samples_ms]]));
}
console.log(`plots: ${written.join(', ') || 'none (no results yet)'}`);
