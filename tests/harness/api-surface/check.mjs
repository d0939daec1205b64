// API-surface check: every method, static and property of docs/api.md exists on our class
// with the official name and arity, and so does each of our extensions (docs/api.md §16). Prints present/expected. Fails when something
// that is not on the expected-missing list is absent (or has another arity), and when
// something on that list has landed (so the list only shrinks).
// Usage: node api-surface/check.mjs [--self-test]   (--self-test checks the official class)
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser } from '../lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const expected = JSON.parse(readFileSync(join(here, 'expected.json'), 'utf8'));
const expectedMissing = new Set(JSON.parse(readFileSync(join(here, 'expected-missing.json'), 'utf8')).missing);
const selfTest = process.argv.includes('--self-test');

const server = await startServer({ staticDir: join(here, '../out/page') });
const browser = await launchBrowser();
const page = await (await browser.newContext()).newPage();
await page.goto(`http://${server.host}/index.html`);
await page.waitForFunction(() => window.harnessReady === true);
const surface = await page.evaluate((kind) => {
  const C = window.harnessClasses[kind];
  const describe = (obj, name) => {
    let o = obj;
    while (o) {
      const d = Object.getOwnPropertyDescriptor(o, name);
      if (d) return typeof d.value === 'function' ? { fn: d.value.length } : { prop: true };
      o = Object.getPrototypeOf(o);
    }
    return null;
  };
  const names = (o) => {
    const out = new Set();
    for (let p = o; p && p !== Object.prototype && p !== Function.prototype; p = Object.getPrototypeOf(p)) {
      Object.getOwnPropertyNames(p).forEach((n) => out.add(n));
    }
    return [...out];
  };
  const result = { proto: {}, statics: {} };
  for (const n of names(C.prototype)) result.proto[n] = describe(C.prototype, n);
  for (const n of names(C)) result.statics[n] = describe(C, n);
  return result;
}, selfTest ? 'official' : 'ours');
await browser.close();
await server.stop();

const rows = [];
const check = (kind, name, arity, found) => {
  let status;
  if (!found) status = 'missing';
  else if (arity === 'property') status = 'ok';
  else if (found.fn === undefined) status = 'not a function';
  else status = found.fn === arity ? 'ok' : `arity ${found.fn}, expected ${arity}`;
  rows.push({ kind, name, status });
};
for (const [n, a] of Object.entries(expected.statics)) check('static', n, a, surface.statics[n]);
if (!selfTest) for (const n of expected.properties) check('property', n, 'property', surface.proto[n]);
for (const [n, a] of Object.entries(expected.methods)) check('method', n, a, surface.proto[n]);
if (!selfTest) for (const [n, a] of Object.entries(expected.aliases)) check('alias', n, a, surface.proto[n]);
// Our extensions beyond 1.58.2 (docs/api.md §16): on our class only.
if (!selfTest) for (const [n, a] of Object.entries(expected.extensions)) check('extension', n, a, surface.proto[n]);

const present = rows.filter((r) => r.status === 'ok');
const unexpected = rows.filter((r) => r.status !== 'ok' && !(r.status === 'missing' && expectedMissing.has(r.name)));
const landed = rows.filter((r) => r.status === 'ok' && expectedMissing.has(r.name));
const label = selfTest ? 'official client (self-test)' : 'our SDK';
console.log(`API surface of ${label}: ${present.length}/${rows.length} present`);
for (const kind of ['static', 'property', 'method', 'alias', 'extension']) {
  const of = rows.filter((r) => r.kind === kind);
  if (of.length) console.log(`  ${({ property: 'properties', alias: 'aliases' })[kind] ?? kind + 's'}: ${of.filter((r) => r.status === 'ok').length}/${of.length}`);
}
if (selfTest) process.exit(present.length === rows.length ? 0 : 1);
for (const r of unexpected) console.log(`  REGRESSION  ${r.kind} ${r.name}: ${r.status}`);
for (const r of landed) console.log(`  LANDED      ${r.kind} ${r.name}: remove it from api-surface/expected-missing.json`);
const stillMissing = rows.filter((r) => r.status === 'missing').map((r) => r.name);
if (stillMissing.length) console.log(`  expected missing (${stillMissing.length}): ${stillMissing.join(', ')}`);
process.exit(unexpected.length || landed.length ? 1 : 0);
