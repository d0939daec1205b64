// Type declarations of chatkitty-wasm: the JavaScript contract of chatkitty@1.58.2
// (API.md), for the calls this version implements. Hand-written: every request,
// result and model is a plain object, so interfaces describe them better than the
// generated signatures (which take `any`).

// ----- models --------------------------------------------------------------------

/** Destinations of a resource, by link name (PROTOCOL.md 6). */
export type Links = Record<string, string>;

/** `{status, online}` of a user. */
export interface UserPresence {
  status: string;
  online: boolean;
}

/** A user as others see it. */
export interface User {
  id: number;
  name: string;
  displayName: string;
  displayPictureUrl: string;
  isGuest: boolean;
  presence: UserPresence;
  properties: Record<string, unknown>;
  _relays: Links;
  [key: string]: unknown;
}

/** The user of the session, with its own hypermedia. */
export interface CurrentUser extends User {
  _topics: Links;
  _actions: Links;
  _streams: Links;
}

/** `{id}` or `{username}`. */
export type ChatKittyUserReference = { id: number } | { username: string };

/** A channel (DIRECT, PUBLIC or PRIVATE). */
export interface Channel {
  id: number;
  type: 'DIRECT' | 'PUBLIC' | 'PRIVATE';
  name: string;
  displayName?: string;
  creator?: User;
  lastReceivedMessage?: Message;
  members?: User[];
  properties: Record<string, unknown>;
  createdTime?: string;
  _relays: Links;
  _topics: Links;
  _actions: Links;
  _streams: Links;
  [key: string]: unknown;
}

/** A file attached to a message. */
export interface ChatKittyFile {
  type: 'HOSTED' | 'EXTERNAL';
  /** For the deliveries of PROTOCOL.md 10.3, carries the read grant (`grant=`). */
  url: string;
  name: string;
  contentType: string;
  size: number;
}

/** An external file to send by reference. */
export interface CreateChatKittyExternalFileProperties {
  url: string;
  name: string;
  contentType: string;
  size: number;
}

/** A message: text (`body`) or file (`file`); user messages have `user`. */
export interface Message {
  id: number;
  type: 'TEXT' | 'FILE' | 'SYSTEM_TEXT' | 'SYSTEM_FILE';
  channelId: number;
  createdTime: string;
  groupTag?: string;
  body?: string;
  file?: ChatKittyFile;
  user?: User;
  links?: unknown[];
  mentions?: unknown[];
  reactions?: unknown[];
  repliesCount?: number;
  properties: Record<string, unknown>;
  _relays: Links;
  _actions: Links;
  _streams?: Links;
  [key: string]: unknown;
}

/** A thread of a channel. */
export interface Thread {
  id: string;
  type: string;
  name?: string;
  properties: Record<string, unknown>;
  createdTime: string;
  _relays: Links;
  _topics: Links;
  _actions: Links;
  _streams: Links;
  [key: string]: unknown;
}

/** Another participant's draft text. */
export interface Keystrokes {
  username: string;
  keys: string;
  [key: string]: unknown;
}

/** A custom event triggered in a channel. */
export interface Event {
  type: string;
  user: User;
  properties: unknown;
  [key: string]: unknown;
}

/** A read receipt. */
export interface ReadReceipt {
  user: User;
  createdTime: string;
  [key: string]: unknown;
}

/** A reaction. */
export interface Reaction {
  emoji: { character: string; description: string; aliases: string[]; tags: string[] };
  user: User;
  createdTime: string;
  [key: string]: unknown;
}

// ----- results and errors ----------------------------------------------------------

/** An error reported by the server or made by the client. */
export interface ChatKittyError {
  error: string;
  message: string;
  timestamp?: string;
}

/** A failed call. */
export interface ChatKittyFailedResult {
  succeeded: false;
  failed: true;
  cancelled: false;
  error: ChatKittyError;
}

/** A successful call carrying `T`'s fields. */
export type ChatKittySucceededResult<T = {}> = {
  succeeded: true;
  failed: false;
  cancelled: false;
} & T;

/** What every call resolves to. */
export type ChatKittyResult<T = {}> = ChatKittySucceededResult<T> | ChatKittyFailedResult;

/** A session: its user. */
export interface UserSession {
  user: CurrentUser;
}

export type StartSessionResult = ChatKittyResult<{ session: UserSession }>;
export type GetCurrentUserResult = ChatKittyResult<{ user: CurrentUser }>;
export type CreateChannelResult = ChatKittyResult<{ channel: Channel }>;
export type GetChannelResult = ChatKittyResult<{ channel: Channel }>;
export type SendMessageResult = ChatKittyResult<{ message: Message }>;
export type GetMessagesResult = ChatKittyResult<{ paginator: ChatKittyPaginator<Message> }>;

/** Thrown synchronously by calls that need a session when there is none. */
export interface NoActiveSessionError extends ChatKittyError {
  error: 'NoActiveSessionError';
}

/** Thrown by `startSession` when a session is already active or starting. */
export interface SessionActiveError extends ChatKittyError {
  error: 'SessionActiveError';
}

/** Rejection of `nextPage()`/`prevPage()` when there is no such page. */
export interface PageOutOfBoundsError extends ChatKittyError {
  error: 'PageOutOfBoundsError';
}

/** One page of a list; pages are immutable snapshots. */
export interface ChatKittyPaginator<T> {
  readonly items: T[];
  readonly hasNextPage: boolean;
  readonly hasPrevPage: boolean;
  /** The next page (older messages), with the first request's filter. Rejects with
   * `PageOutOfBoundsError` when there is none, or with the server's error. */
  nextPage(): Promise<ChatKittyPaginator<T>>;
  /** The previous page. Rejects like `nextPage`. */
  prevPage(): Promise<ChatKittyPaginator<T>>;
}

// ----- observers -------------------------------------------------------------------

/** A callback or an observer object; only `onNext` is ever called. */
export type ChatKittyObserver<T> =
  | ((value: T) => void)
  | { onNext(value: T): void; onError?(error: unknown): void; onComplete?(): void };

/** Stops an observer. Returns a no-op so `unsubscribe()()` is harmless. */
export type ChatKittyUnsubscribe = () => void;

// ----- requests ----------------------------------------------------------------------

/** Where a self-hosted server lives. */
export interface ChatKittyConfiguration {
  apiKey: string;
  /** Host and optional port, no scheme. Default `api.chatkitty.com`. */
  host?: string;
  /** `wss` when true (default), `ws` when false. */
  isSecure?: boolean;
}

export interface StartSessionRequest {
  username: string;
  /** Credentials for an authenticated session; JSON with Latin-1 text only. */
  authParams?: unknown;
}

export interface CreateChannelRequest {
  type: 'DIRECT' | 'PUBLIC' | 'PRIVATE';
  name?: string;
  members?: ChatKittyUserReference[];
  properties?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A message to post: one target (`thread` over `message` over `channel`) and one of
 * `body` or `file`. */
export interface SendMessageRequest {
  channel?: Channel;
  message?: Message;
  thread?: Thread;
  body?: string;
  file?: CreateChatKittyExternalFileProperties;
  groupTag?: string;
  properties?: Record<string, unknown>;
}

export interface SendKeystrokesRequest {
  channel?: Channel;
  thread?: Thread;
  /** The whole current draft; an empty string means it was cleared. */
  keys: string;
}

export interface GetChannelMessagesFilter {
  /** true: only main-thread messages (no replies). */
  mainThread?: boolean;
}

export type GetMessagesRequest =
  | { channel: Channel; filter?: GetChannelMessagesFilter }
  | { message: Message };

/** Handlers of a chat session; all optional. */
export interface StartChatSessionRequest {
  channel: Channel;
  onReceivedMessage?: (message: Message, parent?: Message) => void;
  /** 2.x spelling of `onReceivedMessage`. */
  onMessageReceived?: (message: Message, parent?: Message) => void;
  onReceivedKeystrokes?: (keystrokes: Keystrokes) => void;
  /** 2.x spelling of `onReceivedKeystrokes`. */
  onKeystrokesReceived?: (keystrokes: Keystrokes) => void;
  onTypingStarted?: (user: User) => void;
  onTypingStopped?: (user: User) => void;
  onParticipantEnteredChat?: (user: User) => void;
  onParticipantLeftChat?: (user: User) => void;
  onParticipantPresenceChanged?: (user: User) => void;
  onEventTriggered?: (event: Event) => void;
  onMessageUpdated?: (message: Message) => void;
  onChannelUpdated?: (channel: Channel) => void;
  onMessageRead?: (message: Message, receipt: ReadReceipt) => void;
  onMessageReactionAdded?: (message: Message, reaction: Reaction) => void;
  onMessageReactionRemoved?: (message: Message, reaction: Reaction) => void;
}

/** An active chat session. */
export interface ChatSession {
  channel: Channel;
  thread: Thread | null;
  /** Leaves the channel's real-time topics and stops the handlers. */
  end: ChatKittyUnsubscribe;
}

/** The settled value of an awaited `startChatSession` result. */
export type StartedChatSessionResult = ChatKittySucceededResult<{ session: ChatSession }>;

/** `startChatSession`'s result: readable at once, and awaitable until the server has
 * confirmed every subscription of the session. */
export type StartChatSessionResult = StartedChatSessionResult &
  PromiseLike<StartedChatSessionResult | ChatKittyFailedResult>;

// ----- the client ------------------------------------------------------------------

/**
 * The ChatKitty client.
 *
 * @example
 * ```ts
 * import ChatKitty from 'chatkitty-wasm';
 * const kitty = ChatKitty.getInstance('KEY');
 * const result = await kitty.startSession({ username: 'jane' });
 * if (result.succeeded) console.log(result.session.user.displayName);
 * ```
 */
export declare class ChatKitty {
  /** A client for a self-hosted server (not cached). */
  constructor(configuration: ChatKittyConfiguration);
  /** The cached instance for `apiKey` (same object on every call). Without `options`
   * it connects to `api.chatkitty.com` over TLS. */
  static getInstance(apiKey: string, options?: { host?: string; isSecure?: boolean }): ChatKitty;
  /** The current user while a session is active. */
  readonly currentUser: CurrentUser | undefined;
  /** Connects and starts a user session. Throws `SessionActiveError` if one is active
   * or starting. */
  startSession(request: StartSessionRequest): Promise<StartSessionResult>;
  /** Disconnects; resolves once the connection is closed. */
  endSession(): Promise<void>;
  /** A fresh copy of the current user. Throws `NoActiveSessionError`. */
  getCurrentUser(): Promise<GetCurrentUserResult>;
  /** 2.x alias of `getCurrentUser`. */
  retrieveCurrentUser(): Promise<GetCurrentUserResult>;
  /** Called now with the current user (or null), then on every change. */
  onCurrentUserChanged(observer: ChatKittyObserver<CurrentUser | null>): ChatKittyUnsubscribe;
  /** Called each time a connection is established. */
  onCurrentUserOnline(observer: ChatKittyObserver<CurrentUser>): ChatKittyUnsubscribe;
  /** Called when the session starts connecting and whenever the connection is lost. */
  onCurrentUserOffline(observer: ChatKittyObserver<CurrentUser>): ChatKittyUnsubscribe;
  /** Creates a channel (or returns the existing direct channel). Throws
   * `NoActiveSessionError`. */
  createChannel(request: CreateChannelRequest): Promise<CreateChannelResult>;
  /** A channel by id; waits for a connection. */
  getChannel(id: number): Promise<GetChannelResult>;
  /** 2.x alias of `getChannel`. */
  retrieveChannel(id: number): Promise<GetChannelResult>;
  /** Sends a text message or an external file. Throws `NoActiveSessionError`. */
  sendMessage(request: SendMessageRequest): Promise<SendMessageResult>;
  /** Sends the draft text, debounced 150 ms per channel. Throws `NoActiveSessionError`. */
  sendKeystrokes(request: SendKeystrokesRequest): void;
  /** Messages, newest first. Throws `NoActiveSessionError`. */
  getMessages(request: GetMessagesRequest): Promise<GetMessagesResult>;
  /** 2.x alias of `getMessages`. */
  listMessages(request: GetMessagesRequest): Promise<GetMessagesResult>;
  /** Enters a channel's real-time chat (see `StartChatSessionResult`). */
  startChatSession(request: StartChatSessionRequest): StartChatSessionResult;
  /** Releases the Rust side of an instance made with `new` (optional). */
  free(): void;
}

export default ChatKitty;

export declare function succeeded<T>(result: ChatKittyResult<T>): result is ChatKittySucceededResult<T>;
export declare function failed(result: ChatKittyResult<any>): result is ChatKittyFailedResult;
export declare function cancelled(result: ChatKittyResult<any>): boolean;
export declare function isDirectChannel(channel: Channel): boolean;
export declare function isPublicChannel(channel: Channel): boolean;
export declare function isPrivateChannel(channel: Channel): boolean;
export declare function isTextMessage(message: Message): boolean;
export declare function isFileMessage(message: Message): boolean;
export declare function isUserMessage(message: Message): boolean;
export declare function isSystemMessage(message: Message): boolean;
export declare function sentTextMessage(result: SendMessageResult): boolean;
export declare function sentFileMessage(result: SendMessageResult): boolean;
export declare const ChatKittyUploadResult: {
  readonly COMPLETED: 0;
  readonly FAILED: 1;
  readonly CANCELLED: 2;
  readonly [value: number]: string;
};
