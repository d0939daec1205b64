// chatkitty-wasm: the ChatKitty class apps import (docs/api.md), shared by every entry. It
// is a small JavaScript class in front of the wasm-bindgen one: it exists before the
// WebAssembly module has loaded, so the seed's code runs unchanged at import time
// (`ChatKitty.getInstance(key)`, `new ChatKitty(…)`, observers, `startSession`). Until
// the module has loaded no session can be active, so the calls that need one throw
// `NoActiveSessionError` as they would anyway, and the others wait for the module.
import { install, NAS } from './surface.js';
import { state, init } from './loader.js';
import { ChatKitty as Core } from './chatkitty_wasm.js';

export { init, initSync } from './loader.js';

const instances = new Map();
const noop = () => {};
const noSession = () => {
  const e = new Error("You're not connected to ChatKitty.");
  e.name = e.error = 'NoActiveSessionError';
  return e;
};

/** A page that can share one connection with its app's other tabs (docs/api.md §18):
 * through a SharedWorker, else through a tab elected with a Web Lock. */
const sharable = () =>
  !!(globalThis.SharedWorker || (globalThis.document && globalThis.navigator?.locks && globalThis.BroadcastChannel));

class ChatKitty {
  /** The instance for `apiKey` (and `{host, isSecure}`), the same object on every call. */
  static getInstance(apiKey) {
    const options = arguments[1];
    const key = `${apiKey}\n${options?.host || 'api.chatkitty.com'}\n${!!(options?.isSecure ?? true)}`;
    let kitty = instances.get(key);
    if (!kitty) instances.set(key, (kitty = new ChatKitty({ ...options, apiKey })));
    return kitty;
  }

  constructor(configuration) {
    if (typeof configuration?.apiKey !== 'string') throw new TypeError('ChatKitty: apiKey must be a string');
    this._config = configuration;
    // The wasm-bindgen instance, made once the module has loaded; observers registered
    // before then wait in `_queue`.
    this._k = undefined;
    this._queue = [];
    if (configuration.shareConnection && sharable()) this._w = import('./shared.js').then((m) => m.remote(this));
    else if (state.ready) this._core();
  }

  _core() {
    if (!this._k) {
      const c = this._config;
      this._k = new Core({ ...c, WebSocket: c.WebSocket ?? state.WebSocket });
      for (const register of this._queue) register(this._k);
      this._queue = undefined;
    }
    return this._k;
  }

  /** `f(core)` now, or once the module has loaded (a Promise then). */
  _later(f) {
    return state.ready && !this._w ? f(this._core()) : (this._w ?? init()).then(() => f(this._core()));
  }

  get currentUser() {
    return this._k?.currentUser;
  }

  startSession(request) {
    return this._later((k) => {
      if (!this._w && !(this._config.WebSocket ?? state.WebSocket)) {
        throw new TypeError("ChatKitty: no WebSocket in this runtime: install the 'ws' package (Node 20) or pass { WebSocket } to new ChatKitty()");
      }
      const s = k.startSession(request);
      return this._config.offline ? s.then((r) => this._x().then((o) => o.signedIn()).then(() => r)) : s;
    });
  }

  endSession() {
    return this._later((k) => k.endSession());
  }

  startChatSession(request) {
    if (!state.ready) throw new TypeError('ChatKitty: startChatSession before the module has loaded: await startSession() or init() first');
    return this._core().startChatSession(this._ob?.chat(request) ?? request);
  }

  sendKeystrokes(request) {
    if (!state.ready) throw noSession();
    return this._core().sendKeystrokes(request);
  }

  _call(op, request) {
    if (!state.ready && NAS[op]) throw noSession();
    return this._ob ? this._ob.call(op, request) : this._later((k) => k._call(op, request));
  }

  _x(n) {
    if (!this._config.offline) return Promise.reject(new TypeError('ChatKitty: offline is off'));
    return n == 'readCache' && !this._ob ? import('./offline.js') : (this._o ??= this._later(() => import('./offline.js')).then((m) => (this._ob = m.attach(this, this._k))));
  }

  _on(kind, observer) {
    if (state.ready) return this._core()._on(kind, observer);
    // Instance observers need a session; the current-user ones wait for the module.
    if (kind > 2) throw noSession();
    if (kind === 0) typeof observer === 'function' ? observer(null) : observer?.onNext?.(null);
    let off, gone;
    this._queue.push((k) => gone || (off = k._on(kind, observer, true)));
    return () => {
      gone = true;
      return off ? off() : noop;
    };
  }

  /** The SDK's table sizes (leak tests). */
  _tables() {
    return this._k?._tables() ?? 0;
  }

  /** Releases the instance's Rust side now instead of when it is collected (it stays
   * alive until `endSession` if a session is live). The instance is unusable after. */
  free() {
    this._k?.free();
  }
}

install(ChatKitty);
for (const n of ['onOutboxChanged', 'getOutbox', 'discardOutboxEntry', 'readCache', 'clearCache']) {
  ChatKitty.prototype[n] = function (a) {
    const p = this._x(n).then((o) => o[n](a, this._config));
    return n[0] == 'o' ? () => p.then((f) => f()) : p;
  };
}

export default ChatKitty;
export { ChatKitty };

// Result helpers (docs/api.md §2.1).
export const succeeded = (result) => result.succeeded === true;
export const failed = (result) => result.failed === true;
export const cancelled = (result) => result.cancelled === true;

// Model type guards (docs/api.md §11.2).
export const isDirectChannel = (channel) => channel.type === 'DIRECT';
export const isPublicChannel = (channel) => channel.type === 'PUBLIC';
export const isPrivateChannel = (channel) => channel.type === 'PRIVATE';
export const isTextMessage = (message) => message.body !== undefined;
export const isFileMessage = (message) => message.file !== undefined;
export const isUserMessage = (message) => message.user !== undefined;
export const isSystemMessage = (message) => message.user === undefined;
export const sentTextMessage = (result) => result.message?.type === 'TEXT';
export const sentFileMessage = (result) => result.message?.type === 'FILE';

// Upload outcome (docs/api.md §2.6), with the reverse mapping of a TypeScript enum.
export const ChatKittyUploadResult = Object.freeze({
  COMPLETED: 0, FAILED: 1, CANCELLED: 2, 0: 'COMPLETED', 1: 'FAILED', 2: 'CANCELLED',
});

// Notification type guards (docs/api.md §10).
const notification = (type) => (n) => n.data?.type === type;
export const isSystemSentMessageNotification = notification('SYSTEM:SENT:MESSAGE');
export const isUserSentMessageNotification = notification('USER:SENT:MESSAGE');
export const isUserRepliedToMessageNotification = notification('USER:REPLIED_TO:MESSAGE');
export const isUserMentionedNotification = notification('USER:MENTIONED:USER');
export const isUserMentionedChannelNotification = notification('USER:MENTIONED:CHANNEL');
