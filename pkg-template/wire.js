// chatkitty-wasm: values between a tab and the SharedWorker of `shareConnection`
// (docs/api.md §18), shared by shared.js and shared-worker.js.

export const uuid = () => globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;

/** A value as it can cross a MessagePort: functions dropped, errors as their fields,
 * paginators (kept in `pages`) as their items and a reference. */
export function encode(v, pages) {
  if (v == null || typeof v !== 'object') return typeof v === 'function' ? undefined : v;
  if (v instanceof Error) return { __e: { ...v, name: v.name, message: v.message } };
  if (typeof Blob !== 'undefined' && v instanceof Blob) return v;
  if (Array.isArray(v)) return v.map((x) => encode(x, pages));
  const out = {};
  if (pages && typeof v.nextPage === 'function') {
    const ref = uuid();
    pages.set(ref, v);
    if (pages.size > 100) pages.delete(pages.keys().next().value);
    out.__p = ref;
  }
  for (const k of Object.keys(v)) if (typeof v[k] !== 'function') out[k] = encode(v[k], pages);
  return out;
}

export function decode(v, remote) {
  if (v == null || typeof v !== 'object' || (typeof Blob !== 'undefined' && v instanceof Blob)) return v;
  if (Array.isArray(v)) return v.map((x) => decode(x, remote));
  if (v.__e) return Object.assign(new Error(v.__e.message), v.__e);
  const out = {};
  for (const k of Object.keys(v)) if (k !== '__p') out[k] = decode(v[k], remote);
  if (v.__p) {
    out.nextPage = () => remote.rpc({ t: 'page', ref: v.__p, dir: 'nextPage' });
    out.prevPage = () => remote.rpc({ t: 'page', ref: v.__p, dir: 'prevPage' });
  }
  return out;
}

