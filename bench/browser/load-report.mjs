// The load benchmark's summary. With --merge, first folds the fan-out runs
// (load-fanout-<target>[-pinned].run<i>.json) into load-fanout-<target>[-pinned].json:
// per channel size the median over runs of the highest delivery rate kept up with, and
// of the latency, server cores and server CPU per delivery at that rate, every run kept
// in full. Then prints, unpinned and pinned: idle sessions and memory, session start-up
// cost, fan-out of chatkitty-server next to RabbitMQ Web-STOMP and NATS, and server CPU
// per delivery at fixed rates.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Not from common.mjs, which loads Playwright: this report needs no browser packages.
const RESULTS = resolve(dirname(fileURLToPath(import.meta.url)), '../results');
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.ceil(0.5 * s.length) - 1];
};

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
      deliveries_per_server_cpu_sec_at_max: med(kept.map((k) => k?.deliveries_per_server_cpu_sec ?? null)),
      server_cpu_us_per_delivery_at_max: med(kept.map((k) => k?.server_cpu_us_per_delivery ?? null)),
      load_generator_cores_at_max: med(kept.map((k) => k?.load_generator_cores ?? null)),
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
    database: last.database, load_average_per_run: runs.map((r) => r.load_average),
    target: last.target, server_cpus: last.server_cpus, load_generator_cpus: last.load_generator_cpus,
    senders: last.senders, step_secs: last.step_secs, body_chars: last.body_chars,
    runs: runs.length, sizes,
  };
  writeFileSync(join(RESULTS, `load-fanout-${target}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  for (const n of files) rmSync(join(RESULTS, n));
}

const TARGETS = ['ours', 'rabbitmq', 'nats'];
const MODES = [['', 'unpinned'], ['-pinned', 'pinned: server on one core, load generator on the other']];
if (process.argv.includes('--merge')) for (const t of TARGETS) for (const [sfx] of MODES) merge(`${t}${sfx}`);

for (const [sfx, label] of MODES) {
  const idle = read(`load-idle${sfx}`);
  const startup = read(`load-startup${sfx}`);
  const fan = Object.fromEntries(TARGETS.map((t) => [t, read(`load-fanout-${t}${sfx}`)]));
  const cpu = { ours: read(`load-cpu-ours${sfx}`), nats: read(`load-cpu-nats${sfx}`) };
  if (!idle && !startup && !fan.ours && !fan.nats && !cpu.ours) continue;
  console.log(`\n=== ${label} ===`);
  if (idle) {
    console.log('\nidle sessions (start-up sequence incl. ten user topics), server RSS:');
    console.log('sessions   RSS kB   bytes/session   start-ups/s');
    for (const s of idle.steps) console.log(`${String(s.sessions).padStart(8)} ${String(s.server_rss_kb).padStart(8)} ${String(s.rss_bytes_per_session).padStart(15)} ${String(s.startups_per_second).padStart(13)}`);
    console.log(`maximum concurrent sessions: ${idle.max_concurrent_sessions} (${idle.stopped_because})`);
  }
  if (startup) {
    console.log(`\nsession start-up (${startup.sessions_per_round} sessions per round, ${startup.concurrency} at a time, median of ${startup.rounds.length} rounds): ${f(startup.startups_per_second)}/s, ${f(startup.server_cpu_ms_per_startup, 3)} ms of server CPU each`);
  }
  if (fan.ours || fan.nats || fan.rabbitmq) {
    const any = fan.ours || fan.nats || fan.rabbitmq;
    console.log(`\nfan-out, median of ${any.runs} runs: deliveries/s kept up with; at that rate p99 latency, server cores and deliveries per server CPU-second:`);
    console.log('members | target     deliveries/s  p99 ms  server cores  deliveries/CPU-s  µs/delivery  generator cores');
    const members = [...new Set(TARGETS.flatMap((t) => fan[t]?.sizes.map((s) => s.members) ?? []))];
    for (const m of members) {
      for (const t of TARGETS) {
        const s = fan[t]?.sizes.find((x) => x.members === m);
        if (!s) continue;
        console.log(`${String(m).padStart(7)} | ${t.padEnd(10)} ${f(s.max_deliveries_per_s_kept_up).padStart(12)} ${f(s.latency_ms_p99_at_max, 1).padStart(7)} ${f(s.server_cores_at_max, 2).padStart(13)} ${f(s.deliveries_per_server_cpu_sec_at_max).padStart(17)} ${f(s.server_cpu_us_per_delivery_at_max, 2).padStart(12)} ${f(s.load_generator_cores_at_max, 2).padStart(16)}`);
      }
    }
    console.log(`(bytes per delivered frame: ${TARGETS.filter((t) => fan[t]).map((t) => `${t} ${fan[t].sizes.map((s) => s.delivered_frame_bytes).join('/')}`).join(', ')})`);
  }
  for (const t of ['ours', 'nats']) {
    const doc = cpu[t];
    if (!doc) continue;
    const size = doc.sizes[0];
    console.log(`\nserver CPU per delivery into ${size.members} members, ${t} (${doc.step_secs} s per rate; idle ${f(size.server_cores_idle, 3)} cores):`);
    console.log('offered deliveries/s  delivered/s  server cores  µs/delivery  p50 ms  p99 ms');
    for (const st of size.steps) console.log(`${f(st.offered_deliveries_per_s).padStart(20)} ${f(st.deliveries_per_s).padStart(12)} ${f(st.server_cores, 2).padStart(13)} ${f(st.server_cpu_us_per_delivery, 2).padStart(12)} ${f(st.latency_ms_p50, 1).padStart(7)} ${f(st.latency_ms_p99, 1).padStart(7)}`);
  }
}
