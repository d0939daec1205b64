// chatkitty-wasm: the entry point. Instantiates the WebAssembly module once, with
// top-level await, so apps use the class right away exactly like the `chatkitty`
// package: `import ChatKitty from 'chatkitty-wasm'; ChatKitty.getInstance(key)`.
// The generated glue loads `new URL('chatkitty_wasm_bg.wasm', import.meta.url)`, which
// Vite and webpack 5 both emit as an asset.
import init, { ChatKitty } from './chatkitty_wasm.js';
import { install } from './surface.js';

await init();

install(ChatKitty);

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
