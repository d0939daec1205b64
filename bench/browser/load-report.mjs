// Prints the load benchmark's figures side by side: idle sessions and memory, then
// fan-out of chatkitty-server next to RabbitMQ Web-STOMP, per channel size.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS } from './common.mjs';

const read = (n) => (existsSync(join(RESULTS, `${n}.json`)) ? JSON.parse(readFileSync(join(RESULTS, `${n}.json`), 'utf8')) : null);
const idle = read('load-idle');
const ours = read('load-fanout-ours');
const rabbit = read('load-fanout-rabbitmq');
const f = (v, d = 0) => (v == null ? 'n/a' : Number(v).toFixed(d));

if (idle) {
  console.log('\nidle sessions (start-up sequence incl. ten user topics), server RSS:');
  console.log('sessions   RSS kB   bytes/session   start-ups/s');
  for (const s of idle.steps) console.log(`${String(s.sessions).padStart(8)} ${String(s.server_rss_kb).padStart(8)} ${String(s.rss_bytes_per_session).padStart(15)} ${String(s.startups_per_second).padStart(13)}`);
  console.log(`maximum concurrent sessions: ${idle.max_concurrent_sessions} (${idle.stopped_because})`);
}
if (ours) {
  console.log('\nfan-out (deliveries/s; latency at the highest rate kept up with):');
  console.log('members | ours max kept-up  p50 ms  p99 ms | RabbitMQ max kept-up  p50 ms  p99 ms | ours/RabbitMQ');
  for (const s of ours.sizes) {
    const r = rabbit?.sizes.find((x) => x.members === s.members);
    const last = (x) => (x ? [...x.steps].reverse().find((st) => st.kept_up) || null : null);
    const a = last(s);
    const b = last(r);
    const ratio = r && r.max_deliveries_per_s_kept_up ? (s.max_deliveries_per_s_kept_up / r.max_deliveries_per_s_kept_up).toFixed(2) : 'n/a';
    console.log(`${String(s.members).padStart(7)} | ${f(s.max_deliveries_per_s_kept_up).padStart(16)} ${f(a?.latency_ms_p50, 1).padStart(7)} ${f(a?.latency_ms_p99, 1).padStart(7)} | ${f(r?.max_deliveries_per_s_kept_up).padStart(20)} ${f(b?.latency_ms_p50, 1).padStart(7)} ${f(b?.latency_ms_p99, 1).padStart(7)} | ${ratio}`);
  }
  console.log(`(bytes per delivered frame: ours ${ours.sizes.map((s) => s.delivered_frame_bytes).join('/')}, RabbitMQ ${rabbit ? rabbit.sizes.map((s) => s.delivered_frame_bytes).join('/') : 'n/a'})`);
}
