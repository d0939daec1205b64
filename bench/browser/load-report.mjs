// The load benchmark's summary. With --merge, first folds the fan-out runs
// (load-fanout-<target>.run<i>.json) into load-fanout-<target>.json: per channel size
// the median over runs of the highest delivery rate kept up with, and of the latency
// at that rate, every run kept in full. Then prints idle sessions and memory, and
// fan-out of chatkitty-server next to RabbitMQ Web-STOMP.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS, median } from './common.mjs';

const read = (n) => (existsSync(join(RESULTS, `${n}.json`)) ? JSON.parse(readFileSync(join(RESULTS, `${n}.json`), 'utf8')) : null);
const f = (v, d = 0) => (v == null ? 'n/a' : Number(v).toFixed(d));
const lastKept = (size) => [...size.steps].reverse().find((st) => st.kept_up) || null;

function merge(target) {
  const files = readdirSync(RESULTS).filter((n) => n.startsWith(`load-fanout-${target}.run`) && n.endsWith('.json')).sort();
  if (!files.length) return;
  const runs = files.map((n) => JSON.parse(readFileSync(join(RESULTS, n), 'utf8')));
  const last = runs[runs.length - 1];
  const members = [...new Set(runs.flatMap((r) => r.sizes.map((s) => s.members)))];
  const med = (xs) => { const v = xs.filter((x) => x != null); return v.length ? median(v) : null; };
  const sizes = members.map((m) => {
    const per = runs.map((r) => r.sizes.find((s) => s.members === m)).filter(Boolean);
    const kept = per.map(lastKept);
    return {
      members: m,
      runs: per.length,
      delivered_frame_bytes: med(per.map((s) => s.delivered_frame_bytes)),
      max_deliveries_per_s_kept_up: med(per.map((s) => s.max_deliveries_per_s_kept_up)),
      max_deliveries_per_s: med(per.map((s) => s.max_deliveries_per_s)),
      latency_ms_p50_at_max: med(kept.map((k) => k?.latency_ms_p50 ?? null)),
      latency_ms_p99_at_max: med(kept.map((k) => k?.latency_ms_p99 ?? null)),
      server_cores_at_max: med(kept.map((k) => k?.server_cores ?? null)),
      per_run: per.map((s) => ({
        max_deliveries_per_s_kept_up: s.max_deliveries_per_s_kept_up,
        max_deliveries_per_s: s.max_deliveries_per_s,
        stopped_because: s.stopped_because,
        setup_secs: s.setup_secs,
        steps: s.steps,
      })),
    };
  });
  const doc = {
    benchmark: 'load-fanout', date: last.date, machine: last.machine, commit: last.commit,
    load_average_per_run: runs.map((r) => r.load_average),
    target: last.target, senders: last.senders, step_secs: last.step_secs, body_chars: last.body_chars,
    runs: runs.length, sizes,
  };
  writeFileSync(join(RESULTS, `load-fanout-${target}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  for (const n of files) rmSync(join(RESULTS, n));
}

if (process.argv.includes('--merge')) { merge('ours'); merge('rabbitmq'); }

const idle = read('load-idle');
const ours = read('load-fanout-ours');
const rabbit = read('load-fanout-rabbitmq');
if (idle) {
  console.log('\nidle sessions (start-up sequence incl. ten user topics), server RSS:');
  console.log('sessions   RSS kB   bytes/session   start-ups/s');
  for (const s of idle.steps) console.log(`${String(s.sessions).padStart(8)} ${String(s.server_rss_kb).padStart(8)} ${String(s.rss_bytes_per_session).padStart(15)} ${String(s.startups_per_second).padStart(13)}`);
  console.log(`maximum concurrent sessions: ${idle.max_concurrent_sessions} (${idle.stopped_because})`);
}
if (ours) {
  console.log(`\nfan-out, median of ${ours.runs} runs (deliveries/s kept up with; latency at that rate):`);
  console.log('members | ours deliveries/s  p50 ms  p99 ms | RabbitMQ deliveries/s  p50 ms  p99 ms | ours/RabbitMQ');
  for (const s of ours.sizes) {
    const r = rabbit?.sizes.find((x) => x.members === s.members);
    const ratio = r && r.max_deliveries_per_s_kept_up ? (s.max_deliveries_per_s_kept_up / r.max_deliveries_per_s_kept_up).toFixed(2) : 'n/a';
    console.log(`${String(s.members).padStart(7)} | ${f(s.max_deliveries_per_s_kept_up).padStart(17)} ${f(s.latency_ms_p50_at_max, 1).padStart(7)} ${f(s.latency_ms_p99_at_max, 1).padStart(7)} | ${f(r?.max_deliveries_per_s_kept_up).padStart(21)} ${f(r?.latency_ms_p50_at_max, 1).padStart(7)} ${f(r?.latency_ms_p99_at_max, 1).padStart(7)} | ${ratio}`);
  }
  console.log(`(bytes per delivered frame: ours ${ours.sizes.map((s) => s.delivered_frame_bytes).join('/')}, RabbitMQ ${rabbit ? rabbit.sizes.map((s) => s.delivered_frame_bytes).join('/') : 'n/a'})`);
}
