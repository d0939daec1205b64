// Type declarations of chatkitty-wasm: the JavaScript contract of chatkitty@1.58.2
// (docs/api.md): every method, request, result and model. Hand-written: every request,
// result and model is a plain object, so interfaces describe them better than the
// generated signatures (which take `any`).

// ----- models --------------------------------------------------------------------

/** Destinations of a resource, by link name (docs/protocol.md §6). */
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
/** Anything with an id. */
export interface ChatKittyModelReference {
  id: number;
}
export type BaseUser = User;
export type UserRelays = Links;
export type CurrentUserRelays = Links;
export type CurrentUserTopics = Links;
export type CurrentUserActions = Links;
export type CurrentUserStreams = Links;

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

export type BaseChannel = Channel;
export type DirectChannel = Channel & { type: 'DIRECT'; members: User[] };
export type PublicChannel = Channel & { type: 'PUBLIC' };
export type PrivateChannel = Channel & { type: 'PRIVATE' };
export type ChannelRelays = Links;
export type ChannelTopics = Links;
export type ChannelActions = Links;
export type ChannelStreams = Links;

/** A file attached to a message. */
export interface ChatKittyFile {
  type: 'HOSTED' | 'EXTERNAL';
  /** For the deliveries of docs/protocol.md §10.3, carries the read grant (`grant=`). */
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
  links?: MessageLink[];
  mentions?: MessageMention[];
  reactions?: ReactionSummary[];
  repliesCount?: number;
  properties: Record<string, unknown>;
  _relays: Links;
  _actions: Links;
  _streams?: Links;
  [key: string]: unknown;
}

export type BaseMessage = Message;
export type TextMessage = Message & { body: string; links: MessageLink[] };
export type FileMessage = Message & { file: ChatKittyFile };
export type UserMessage = Message & { user: User };
export type SystemMessage = Message & { user?: undefined };
export type BaseTextMessage = TextMessage;
export type BaseFileMessage = FileMessage;
export type BaseUserMessage = UserMessage;
export type TextUserMessage = TextMessage & UserMessage & { type: 'TEXT' };
export type FileUserMessage = FileMessage & UserMessage & { type: 'FILE' };
export type TextSystemMessage = TextMessage & { type: 'SYSTEM_TEXT' };
export type FileSystemMessage = FileMessage & { type: 'SYSTEM_FILE' };

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

export type ThreadRelays = Links;
export type ThreadTopics = Links;
export type ThreadActions = Links;
export type ThreadStreams = Links;
export type KeystrokesRelays = Links;
export type ReactionRelays = Links;
export type ReadReceiptRelays = Links;
export type EventRelays = Links;

/** A read receipt. */
export interface ReadReceipt {
  user: User;
  createdTime: string;
  _relays?: Links;
  [key: string]: unknown;
}

/** An emoji as the server describes it. */
export interface Emoji {
  character: string;
  description: string;
  aliases: string[];
  tags: string[];
}

/** A reaction. */
export interface Reaction {
  emoji: Emoji;
  user: User;
  createdTime: string;
  _relays?: Links;
  [key: string]: unknown;
}

/** Who reacted with one emoji, on a message. */
export interface ReactionSummary {
  emoji: Emoji;
  users: User[];
  count: number;
}

/** A link found in a text message. */
export interface MessageLink {
  source: string;
  startPosition: number;
  endPosition: number;
  preview?: MessageLinkPreview;
}
export interface MessageLinkPreview {
  url: string;
  title: string;
  image: MessageLinkPreviewImage;
  description?: string;
  siteName?: string;
}
export interface MessageLinkPreviewImage {
  source: string;
}

/** A `<@user>` or `<#channel>` mention. */
export interface BaseMessageMention {
  type: 'USER' | 'CHANNEL';
  tag: string;
  startPosition: number;
  endPosition: number;
}
export interface UserMessageMention extends BaseMessageMention {
  type: 'USER';
  user: User;
}
export interface ChannelMessageMention extends BaseMessageMention {
  type: 'CHANNEL';
  channel: Channel;
}
export type MessageMention = UserMessageMention | ChannelMessageMention;

/** A user the current user blocked. */
export interface UserBlockListItem {
  user: User;
  createdTime: string;
  _actions: UserBlockListItemActions;
  [key: string]: unknown;
}
export interface UserBlockListItemActions {
  delete: string;
  [key: string]: string;
}

/** What a notification is about (`data.type`). */
export interface NotificationData {
  type:
    | 'SYSTEM:SENT:MESSAGE'
    | 'USER:SENT:MESSAGE'
    | 'USER:REPLIED_TO:MESSAGE'
    | 'USER:MENTIONED:USER'
    | 'USER:MENTIONED:CHANNEL';
  recipient?: User;
  message?: Message;
  parent?: Message;
  [key: string]: unknown;
}
export interface SystemSentMessageNotificationData extends NotificationData { type: 'SYSTEM:SENT:MESSAGE'; message: Message }
export interface UserSentMessageNotificationData extends NotificationData { type: 'USER:SENT:MESSAGE'; message: Message }
export interface UserRepliedToMessageNotificationData extends NotificationData { type: 'USER:REPLIED_TO:MESSAGE'; message: Message; parent: Message }
export interface UserMentionedNotificationData extends NotificationData { type: 'USER:MENTIONED:USER'; message: Message }
export interface UserMentionedChannelNotificationData extends NotificationData { type: 'USER:MENTIONED:CHANNEL'; message: Message }

/** Something that happened outside the user's active chat sessions. */
export interface BaseNotification<D extends NotificationData = NotificationData> {
  id: number;
  title: string;
  body: string;
  channel: Channel | null;
  data: D;
  muted: boolean;
  createdTime: string;
  readTime: string | null;
}
export type SystemSentMessageNotification = BaseNotification<SystemSentMessageNotificationData>;
export type UserSentMessageNotification = BaseNotification<UserSentMessageNotificationData>;
export type UserRepliedToMessageNotification = BaseNotification<UserRepliedToMessageNotificationData>;
export type UserMentionedNotification = BaseNotification<UserMentionedNotificationData>;
export type UserMentionedChannelNotification = BaseNotification<UserMentionedChannelNotificationData>;
export type Notification =
  | SystemSentMessageNotification
  | UserSentMessageNotification
  | UserRepliedToMessageNotification
  | UserMentionedNotification
  | UserMentionedChannelNotification;

/** Progress of an upload (docs/api.md §2.6). */
export interface ChatKittyUploadProgressListener {
  onStarted(): void;
  /** The uploaded fraction, 0…1 (NaN when the size is unknown). */
  onProgress(progress: number): void;
  onCompleted(result: ChatKittyUploadResult): void;
}

/** A React Native-style file: `uri` must be a `data:` URI. */
export interface CreateChatKittyUriFileProperties {
  uri: string;
  name: string;
  type?: string;
  size?: number;
}

/** A file to send: an external file by reference, a DOM File/Blob (uploaded), or a
 * `{uri: 'data:…', name}` object (converted to a File and uploaded). */
export type CreateChatKittyFileProperties =
  | CreateChatKittyExternalFileProperties
  | Blob
  | CreateChatKittyUriFileProperties;

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

/** A cancelled call (declared by the contract, never produced). */
export interface ChatKittyCancelledResult {
  succeeded: false;
  failed: false;
  cancelled: true;
}

type Paged<T> = { paginator: ChatKittyPaginator<T> };

export type StartSessionResult = ChatKittyResult<{ session: UserSession }>;
export type GetCurrentUserResult = ChatKittyResult<{ user: CurrentUser }>;
export type UpdateCurrentUserResult = ChatKittyResult<{ user: CurrentUser }>;
export type UpdateCurrentUserDisplayPictureResult = ChatKittyResult<{ user: CurrentUser }>;
export type CreateChannelResult = ChatKittyResult<{ channel: Channel }>;
export type GetChannelsResult = ChatKittyResult<Paged<Channel>>;
export type GetChannelResult = ChatKittyResult<{ channel: Channel }>;
export type GetChannelUnreadResult = ChatKittyResult<{ unread: boolean }>;
export type JoinChannelResult = ChatKittyResult<{ channel: Channel }>;
export type LeaveChannelResult = ChatKittyResult<{ channel: Channel }>;
export type AddChannelModeratorResult = ChatKittyResult<{ channel: Channel }>;
export type MuteChannelResult = ChatKittyResult<{ channel: Channel }>;
export type UnmuteChannelResult = ChatKittyResult<{ channel: Channel }>;
export type ReadChannelResult = ChatKittyResult<{ channel: Channel }>;
export type ClearChannelHistoryResult = ChatKittyResult<{ channel: Channel }>;
export type HideChannelResult = ChatKittyResult<{ channel: Channel }>;
export type InviteUserResult = ChatKittyResult<{ user: User }>;
export type UpdateChannelResult = ChatKittyResult<{ channel: Channel }>;
export type DeleteChannelResult = ChatKittyResult<{}>;
export type SentMessageResult = ChatKittySucceededResult<{ message: Message }>;
export type SendMessageResult = ChatKittyResult<{ message: Message }>;
export type GetMessagesResult = ChatKittyResult<Paged<Message>>;
export type SearchMessagesResult = ChatKittyResult<Paged<Message>>;
export type GetLastReadMessageResult = ChatKittyResult<{ message?: Message }>;
export type ReadMessageResult = ChatKittyResult<{ message: Message }>;
export type EditMessageResult = ChatKittyResult<{ message: Message }>;
export type DeleteMessageForMeResult = ChatKittyResult<{ message: Message }>;
export type DeleteMessageResult = ChatKittyResult<{ message: Message }>;
export type GetMessageChannelResult = ChatKittyResult<{ channel: Channel }>;
export type GetMessageParentResult = ChatKittyResult<{ message: Message }>;
export type CreateThreadResult = ChatKittyResult<{ thread: Thread }>;
export type GetThreadsResult = ChatKittyResult<Paged<Thread>>;
export type GetThreadChannelResult = ChatKittyResult<{ channel: Channel }>;
export type GetThreadMessageResult = ChatKittyResult<{ message: Message }>;
export type ReadThreadResult = ChatKittyResult<{ thread: Thread }>;
export type ReactToMessageResult = ChatKittyResult<{ reaction: Reaction }>;
export type GetReactionsResult = ChatKittyResult<Paged<Reaction>>;
export type RemoveReactionResult = ChatKittyResult<{ reaction: Reaction }>;
export type GetReadReceiptsResult = ChatKittyResult<Paged<ReadReceipt>>;
export type GetUsersResult = ChatKittyResult<Paged<User>>;
export type GetUserResult = ChatKittyResult<{ user: User }>;
export type GetUserIsChannelMemberResult = ChatKittyResult<{ isMember: boolean }>;
export type BlockUserResult = ChatKittyResult<{ user: User }>;
export type GetUserBlockListResult = ChatKittyResult<Paged<UserBlockListItem>>;
export type DeleteUserBlockListItemResult = ChatKittyResult<{ user: User }>;
export type GetCountResult = ChatKittyResult<{ count: number }>;
export type TriggerEventResult = ChatKittyResult<{ channel: Channel }>;
/** Moderation (an extension beyond chatkitty 1.58.2, docs/api.md §16.1): resolved when
 * the server confirmed it, with the message or channel passed in. */
export type FlagMessageResult = ChatKittyResult<{ message: Message }>;
export type BanChannelMemberResult = ChatKittyResult<{ channel: Channel }>;
export type UnbanChannelMemberResult = ChatKittyResult<{ channel: Channel }>;
export type MuteChannelMemberResult = ChatKittyResult<{ channel: Channel }>;
export type UnmuteChannelMemberResult = ChatKittyResult<{ channel: Channel }>;
export type SetChannelSlowModeResult = ChatKittyResult<{ channel: Channel }>;

/** Thrown synchronously by calls that need a session when there is none. */
export interface NoActiveSessionError extends ChatKittyError {
  error: 'NoActiveSessionError';
}

/** Thrown by `startSession` when a session is already active or starting. */
export interface SessionActiveError extends ChatKittyError {
  error: 'SessionActiveError';
}

/** Thrown by `joinChannel` when the channel offers no join action. */
export interface ChannelNotPubliclyJoinableError extends ChatKittyError {
  error: 'ChannelNotPubliclyJoinableError';
  channel: Channel;
}
/** Thrown by `leaveChannel` when the channel offers no leave action. */
export interface NotAChannelMemberError extends ChatKittyError {
  error: 'NotAChannelMemberError';
  channel: Channel;
}
/** Thrown by `addChannelModerator` (the official `error` has no "Error" suffix). */
export interface CannotAddModeratorToChannelError extends ChatKittyError {
  error: 'CannotAddModeratorToChannel';
  channel: Channel;
}
/** Thrown by `inviteUser` when the channel offers no invite action. */
export interface ChannelNotInvitableError extends ChatKittyError {
  error: 'ChannelNotInvitableError';
  channel: Channel;
}
/** Rejection of `getMessageParent` for a message that is not a reply. */
export interface MessageNotAReplyError extends ChatKittyError {
  error: 'MessageNotAReplyError';
  messageModel: Message;
}

/** The `error` of a moderation refusal (docs/api.md §16.1): a `sendMessage` by a
 * member banned from the channel (`BannedError`), muted in it (`MutedError`), posting
 * again too soon in slow mode (`SlowModeError`, its message says when they may), or a
 * message the application's blocklist refuses (`MessageBlockedError`). */
export interface ChatKittyModerationError extends ChatKittyError {
  error: 'BannedError' | 'MutedError' | 'SlowModeError' | 'MessageBlockedError';
}

/** The `error` of a call that failed because of the connection:
 * `ChatKittyConnectionError` (no connection for `startSession`, or a non-message
 * action cut off by a drop — it may or may not have been applied, so it is not
 * repeated) or `ChatKittyTimeoutError` (no answer within `sendTimeout`). */
export interface ChatKittyConnectionError extends ChatKittyError {
  error: 'ChatKittyConnectionError' | 'ChatKittyTimeoutError';
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

/** Where the server lives, and how the connection copes with losing it. */
export interface ChatKittyOptions {
  /** Host and optional port, no scheme. Default `api.chatkitty.com`. */
  host?: string;
  /** `wss` when true (default), `ws` when false. */
  isSecure?: boolean;
  /** First delay (ms) before reconnecting after the connection drops or its
   * heart-beats stop. Each failed attempt doubles it up to `maxReconnectDelay`; every
   * delay is drawn at random between half and all of it. Default 1000. */
  minReconnectDelay?: number;
  /** Longest delay (ms) between reconnect attempts. Default 30000. */
  maxReconnectDelay?: number;
  /** How long (ms) a send — `sendMessage` and every other action that writes —
   * may wait for the connection and for the server's answer. Sends made offline are
   * queued and go out, in order, once reconnected; a message send cut off by a drop is
   * sent again with the same `idempotency-key`, so the server stores it once. A send
   * still unanswered after this long resolves failed with `ChatKittyTimeoutError`
   * (it may or may not have been stored if it had gone out). 0: wait forever.
   * Default 30000. */
  sendTimeout?: number;
  /** Extension (docs/api.md §17): the durable outbox and the local cache. Text and external-file messages
   * are written to IndexedDB before they are sent and sent again — with the same
   * idempotency key, so the server stores them once — when the connection returns, in
   * this page or the next page of the same app, host and user. Their Promise then
   * resolves once the server has the message (or refused it), not after `sendTimeout`.
   * The current user, the channel list and the newest messages of recently read
   * channels are kept in IndexedDB per app, host and user (`readCache`; reads answered
   * from it while disconnected carry `cached: true`).
   * Loads `offline.js` (about 3.7 KB gzip) when set. Default false. */
  offline?: boolean;
  /** Extension (docs/api.md §18): the tabs of the app share one connection per user,
   * owned by a SharedWorker, or where the browser has none by one tab elected through
   * a Web Lock (§18.1; writes other than text sends in flight when that tab closes
   * fail with `ChatKittyConnectionError`). Ignored outside pages. Loads `shared.js` and the
   * worker (or `hub.js` in the elected tab) when set. Default false. */
  shareConnection?: boolean;
}

/** Extension (docs/api.md §17.4): what the cache holds for a user. */
export interface CachedState {
  /** The user as `getCurrentUser` last answered, if it was called. */
  user: CurrentUser | null;
  /** The first page of `getChannels()` (no filter, or `{joined: true}`), each with its last message as live
   * messages updated it. */
  channels: Channel[];
  /** By channel id: the newest messages (newest first, at most 50) of the channels read
   * with `getMessages({channel})` most recently (at most 20), with live messages added. */
  messages: Record<string, Message[]>;
  /** By channel id: the newest messages of `getMessages({channel, filter: {mainThread:
   * true}})`, as last read (live messages are not added: they may be in a thread). */
  mainThreadMessages: Record<string, Message[]>;
  /** When it was last written; null: nothing cached. */
  cachedTime: string | null;
}

/** Extension (docs/api.md §17): a message in the outbox. */
export interface OutboxEntry {
  /** Its idempotency key. */
  key: string;
  /** The call it carries out (docs/api.md §17.1). */
  op: 'sendMessage' | 'readChannel' | 'readMessage' | 'readThread' | 'editMessage';
  /** `pending`: waiting for a connection; `sending`: handed to the connection, not
   * answered yet; `failed`: the server refused it (`error`); it stays until discarded. */
  state: 'pending' | 'sending' | 'failed';
  /** When the call was made (ISO 8601). */
  createdTime: string;
  /** What was sent: for a message `channel`/`thread`/`message`, `body` or `file`,
   * `groupTag`, `properties`; for the other calls their request. */
  request: SendMessageRequest | ReadChannelRequest | ReadMessageRequest | ReadThreadRequest | EditMessageRequest;
  error?: { error: string; message: string };
}

/** `new ChatKitty(configuration)`: the API key and the options. */
export interface ChatKittyConfiguration extends ChatKittyOptions {
  apiKey: string;
  /** The WebSocket constructor to connect with (default: the platform's). For Node 20,
   * which has none: `import { WebSocket } from 'ws'` — or just install `ws`, which the
   * package then finds by itself. */
  WebSocket?: new (url: string, protocols?: string | string[]) => unknown;
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

interface ChannelRequest { channel: Channel }
interface MessageRequest { message: Message }
interface ThreadRequest { thread: Thread }

export interface SendTextMessageRequest {
  body: string;
  groupTag?: string;
  properties?: Record<string, unknown>;
}
export interface SendFileMessageRequest {
  file: CreateChatKittyFileProperties;
  groupTag?: string;
  properties?: Record<string, unknown>;
  progressListener?: ChatKittyUploadProgressListener;
}
type Content = SendTextMessageRequest | SendFileMessageRequest;
export type SendChannelMessageRequest = ChannelRequest & Content;
export type SendMessageReplyRequest = MessageRequest & Content;
export type SendThreadMessageRequest = ThreadRequest & Content;
/** A message to post: one target (`thread` over `message` over `channel`) and one of
 * `body` or `file` (both, or neither, resolve a failed validation result). */
export type SendMessageRequest = SendChannelMessageRequest | SendMessageReplyRequest | SendThreadMessageRequest;

export interface SendChannelKeystrokesRequest { channel: Channel; keys: string }
export interface SendThreadKeystrokesRequest { thread: Thread; keys: string }
/** The whole current draft; an empty string means it was cleared. */
export type SendKeystrokesRequest = SendChannelKeystrokesRequest | SendThreadKeystrokesRequest;

export interface GetChannelMessagesFilter {
  /** true: only main-thread messages (no replies). */
  mainThread?: boolean;
}
export interface GetChannelMessagesRequest { channel: Channel; filter?: GetChannelMessagesFilter }
export interface GetMessageRepliesRequest { message: Message }
export type GetMessagesRequest = GetChannelMessagesRequest | GetMessageRepliesRequest;
/** `searchMessages` (an extension beyond chatkitty 1.58.2): every word of `query` must
 * occur; within `channel` when given, else in the user's channels. */
export interface SearchMessagesRequest { query: string; channel?: Channel }

export interface GetChannelsFilter {
  /** true: channels the user is a member of; false: channels the user can join. */
  joined?: boolean;
  /** true: only channels with unread messages. */
  unread?: boolean;
  name?: string;
}
export interface GetChannelsRequest { filter?: GetChannelsFilter }
export interface GetUnreadChannelsFilter { type?: 'DIRECT' | 'PUBLIC' | 'PRIVATE' }
export interface GetUnreadChannelsRequest { filter?: GetUnreadChannelsFilter }
export type GetChannelUnreadRequest = ChannelRequest;
export type JoinChannelRequest = ChannelRequest;
export type LeaveChannelRequest = ChannelRequest;
export interface GetChannelMembersFilter { displayName?: string }
export interface GetChannelMembersRequest { channel: Channel; filter?: GetChannelMembersFilter }
export interface AddChannelModeratorRequest { channel: Channel; user: ChatKittyUserReference | User }
export type MuteChannelRequest = ChannelRequest;
export type UnmuteChannelRequest = ChannelRequest;
export type ReadChannelRequest = ChannelRequest;
export type ClearChannelHistoryRequest = ChannelRequest;
export type HideChannelRequest = ChannelRequest;
export interface InviteUserRequest { channel: Channel; user: ChatKittyUserReference | User }
/** The channel as edited by the app; the whole object is sent. */
export type UpdateChannelRequest = ChannelRequest;
export type DeleteChannelRequest = ChannelRequest;
export interface UpdateCurrentUserDisplayPictureRequest {
  file: CreateChatKittyFileProperties;
  progressListener?: ChatKittyUploadProgressListener;
}
export interface GetLastReadMessageRequest { channel: Channel; username: string }
export type ReadMessageRequest = MessageRequest;
export interface EditMessageRequest { message: Message; body: string }
export type DeleteMessageForMeRequest = MessageRequest;
export type DeleteMessageRequest = MessageRequest;
export interface GetUnreadMessagesCountRequest { channel?: Channel }
export type GetMessageRepliesCountRequest = MessageRequest;
export type GetMessageChannelRequest = MessageRequest;
export type GetMessageParentRequest = MessageRequest;
export interface CreateThreadRequest { channel: Channel; name: string; properties?: Record<string, unknown> }
export interface GetChannelThreadsFilter {
  /** false: leave out the channel's main thread. */
  includeMainThread?: boolean;
  /** true: only threads made with createThread. */
  standalone?: boolean;
}
export interface GetChannelThreadsRequest { channel: Channel; filter?: GetChannelThreadsFilter }
export type GetThreadsRequest = GetChannelThreadsRequest;
export type GetThreadChannelRequest = ThreadRequest;
export type GetThreadMessageRequest = ThreadRequest;
export type ReadThreadRequest = ThreadRequest;
/** `emoji`: an alias (`+1`, `heart`) or the character. */
export interface ReactToMessageRequest { message: Message; emoji: string }
export type GetReactionsRequest = MessageRequest;
export interface RemoveReactionRequest { message: Message; emoji: string }
export type GetReadReceiptsRequest = MessageRequest;
export interface GetUsersFilter { name?: string; displayName?: string; online?: boolean }
export interface GetUsersRequest { filter?: GetUsersFilter }
/** `user` must be a User resource (from members, contacts or getUser). */
export interface GetUserIsChannelMemberRequest { user: User; channel: Channel }
export interface BlockUserRequest { user: User }
export interface DeleteUserBlockListItemRequest { item: UserBlockListItem }
export interface TriggerEventRequest { channel: Channel; type: string; properties?: unknown }
/** `flagMessage` (docs/api.md §16.1): why the message is reported (at most 500 characters). */
export interface FlagMessageRequest { message: Message; reason?: string }
/** `banChannelMember`: a member of a group channel you moderate; `reason` (at most 500
 * characters) is kept with the ban; `durationSeconds` (1 to 31,622,400): until lifted when
 * absent. */
export interface BanChannelMemberRequest {
  channel: Channel;
  user: ChatKittyUserReference | User;
  reason?: string;
  durationSeconds?: number;
}
export interface UnbanChannelMemberRequest { channel: Channel; user: ChatKittyUserReference | User }
/** `muteChannelMember`: `durationSeconds` (1 to 31,622,400): until lifted when absent. */
export interface MuteChannelMemberRequest {
  channel: Channel;
  user: ChatKittyUserReference | User;
  durationSeconds?: number;
}
export interface UnmuteChannelMemberRequest { channel: Channel; user: ChatKittyUserReference | User }
/** `setChannelSlowMode`: the seconds between a member's messages, 0 (off) to 21,600. */
export interface SetChannelSlowModeRequest { channel: Channel; seconds: number }
/** Internal to the official client; declared for completeness. */
export interface CreatePaginatorRequest { relay: string; contentName: string; parameters?: Record<string, unknown> }

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
  /** A message in the thread set with `session.setThread`. */
  onThreadReceivedMessage?: (thread: Thread, message: Message) => void;
  /** 2.x spelling of `onThreadReceivedMessage`. */
  onThreadMessageReceived?: (thread: Thread, message: Message) => void;
  onThreadReceivedKeystrokes?: (thread: Thread, keystrokes: Keystrokes) => void;
  /** 2.x spelling of `onThreadReceivedKeystrokes`. */
  onThreadKeystrokesReceived?: (thread: Thread, keystrokes: Keystrokes) => void;
  onThreadTypingStarted?: (thread: Thread, user: User) => void;
  onThreadTypingStopped?: (thread: Thread, user: User) => void;
}

/** An active chat session. */
export interface ChatSession {
  channel: Channel;
  thread: Thread | null;
  /** Leaves the channel's (and the thread's) real-time topics and stops the handlers. */
  end: ChatKittyUnsubscribe;
  /** Follows `thread`: sets `thread` and subscribes its messages, keystrokes and
   * typing topics, leaving the previous thread's. */
  setThread(thread: Thread): void;
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
  /** The cached instance for `apiKey` (same object on every call; the options of the
   * first call for a key and host stay). Without `options` it connects to
   * `api.chatkitty.com` over TLS. */
  static getInstance(apiKey: string, options?: ChatKittyOptions): ChatKitty;
  /** The current user while a session is active. */
  readonly currentUser: CurrentUser | undefined;
  /** Connects and starts a user session. Throws `SessionActiveError` if one is active
   * or starting. */
  startSession(request: StartSessionRequest): Promise<StartSessionResult>;
  /** Disconnects; resolves once the connection is closed. */
  endSession(): Promise<void>;
  /** Called now with the current user (or null), then on every change. */
  onCurrentUserChanged(observer: ChatKittyObserver<CurrentUser | null>): ChatKittyUnsubscribe;
  /** Called each time a connection is established, reconnects included (the session
   * resumes with the same user, every topic and chat session is subscribed again, and
   * each chat session's `onReceivedMessage` gets the messages it missed, in order). */
  onCurrentUserOnline(observer: ChatKittyObserver<CurrentUser>): ChatKittyUnsubscribe;
  /** Called when the session starts connecting and once per loss of the connection
   * (reconnect attempts follow, see `ChatKittyOptions`). */
  onCurrentUserOffline(observer: ChatKittyObserver<CurrentUser>): ChatKittyUnsubscribe;
  /** Observes notifications (messages, replies, mentions outside chat sessions).
   * Throws `NoActiveSessionError`. */
  onNotificationReceived(observer: ChatKittyObserver<Notification>): ChatKittyUnsubscribe;
  /** Observes channels the user joined or was added to. Throws `NoActiveSessionError`. */
  onChannelJoined(observer: ChatKittyObserver<Channel>): ChatKittyUnsubscribe;
  /** Observes direct channels the user hid. Throws `NoActiveSessionError`. */
  onChannelHidden(observer: ChatKittyObserver<Channel>): ChatKittyUnsubscribe;
  /** Observes hidden direct channels becoming visible. Throws `NoActiveSessionError`. */
  onChannelUnhidden(observer: ChatKittyObserver<Channel>): ChatKittyUnsubscribe;
  /** Observes channels the user left or was removed from. Throws `NoActiveSessionError`. */
  onChannelLeft(observer: ChatKittyObserver<Channel>): ChatKittyUnsubscribe;
  /** Observes changes of the user's channels. Throws `NoActiveSessionError`. */
  onChannelUpdated(observer: ChatKittyObserver<Channel>): ChatKittyUnsubscribe;
  /** Observes contacts' presence. Throws `NoActiveSessionError`. */
  onUserPresenceChanged(observer: ChatKittyObserver<User>): ChatKittyUnsubscribe;
  /** Observes members of the user's channels starting to type. Throws `NoActiveSessionError`. */
  onParticipantStartedTyping(observer: ChatKittyObserver<User>): ChatKittyUnsubscribe;
  /** Observes members of the user's channels stopping typing. Throws `NoActiveSessionError`. */
  onParticipantStoppedTyping(observer: ChatKittyObserver<User>): ChatKittyUnsubscribe;

  /** Sends the draft text, debounced 150 ms per channel. Throws `NoActiveSessionError`. */
  sendKeystrokes(request: SendKeystrokesRequest): void;

  /** Enters a channel's real-time chat (see `StartChatSessionResult`). */
  startChatSession(request: StartChatSessionRequest): StartChatSessionResult;
  /** Releases the Rust side of an instance made with `new` now instead of when it is
   * garbage-collected (optional; a live session keeps it until `endSession`). The
   * instance is unusable afterwards. */
  free(): void;

  /** Extension (docs/api.md §17), with `offline: true`: called with the current user's
   * outbox at once and whenever it changes. */
  onOutboxChanged(observer: (entries: OutboxEntry[]) => void): ChatKittyUnsubscribe;
  /** Extension (docs/api.md §17), with `offline: true`: the current user's outbox. */
  getOutbox(): Promise<OutboxEntry[]>;
  /** Extension (docs/api.md §17), with `offline: true`: removes an entry (a failed one
   * the user gave up on); its `sendMessage` Promise resolves cancelled. */
  discardOutboxEntry(key: string): Promise<boolean>;
  /** Extension (docs/api.md §17.4), with `offline: true`: what the cache holds for
   * `username` — readable at once after a reload, before `startSession`. */
  readCache(request: { username: string }): Promise<CachedState>;
  /** Extension (docs/api.md §17.4), with `offline: true`: clears the current user's cache
   * (without a session: every user's of this app and host). `endSession` clears it too. */
  clearCache(): Promise<void>;

  // The API calls, each followed by its 2.x aliases (docs/api.md §12.1).
  // ----- generated from src/core/ops.rs by `UPDATE_SURFACE=1 cargo test -p chatkitty-wasm --lib surface` -----
  /**
   * Saves the user `update` returns from the live current user (the whole object is
   * sent); `currentUser` and `onCurrentUserChanged` follow. Throws `NoActiveSessionError`.
   * @example
   * ```ts
   * await kitty.updateCurrentUser((user) => { user.properties = { color: 'teal' }; return user; });
   * ```
   */
  updateCurrentUser(update: (user: CurrentUser) => CurrentUser): Promise<UpdateCurrentUserResult>;
  /**
   * Sets the display picture: a File/Blob or `{uri: 'data:…'}` is uploaded, external
   * file properties are saved by reference. Throws `NoActiveSessionError`.
   */
  updateCurrentUserDisplayPicture(request: UpdateCurrentUserDisplayPictureRequest): Promise<UpdateCurrentUserDisplayPictureResult>;
  /** Saves the channel as edited (name, displayName, properties). */
  updateChannel(request: UpdateChannelRequest): Promise<UpdateChannelResult>;
  /** Deletes a channel. */
  deleteChannel(request: DeleteChannelRequest): Promise<DeleteChannelResult>;
  /**
   * Creates a channel (or returns the existing direct channel). Throws
   * `NoActiveSessionError`.
   */
  createChannel(request: CreateChannelRequest): Promise<CreateChannelResult>;
  /**
   * Channels: all visible, `joined: true` the user's, `joined: false` joinable,
   * `unread: true` with unread messages. Throws `NoActiveSessionError`.
   */
  getChannels(request?: GetChannelsRequest): Promise<GetChannelsResult>;
  /** 2.x alias of `getChannels`. */
  listChannels(request?: GetChannelsRequest): Promise<GetChannelsResult>;
  /** A channel by id; waits for a connection. */
  getChannel(id: number): Promise<GetChannelResult>;
  /** 2.x alias of `getChannel`. */
  retrieveChannel(id: number): Promise<GetChannelResult>;
  /**
   * Joins a public channel. Throws `NoActiveSessionError`, and
   * `ChannelNotPubliclyJoinableError` when the channel has no join action.
   */
  joinChannel(request: JoinChannelRequest): Promise<JoinChannelResult>;
  /**
   * Leaves a channel. Throws `NoActiveSessionError`, and `NotAChannelMemberError`
   * when the channel has no leave action.
   */
  leaveChannel(request: LeaveChannelRequest): Promise<LeaveChannelResult>;
  /**
   * Makes a user a moderator. Throws `CannotAddModeratorToChannelError` when the
   * channel has no add-moderator action.
   */
  addChannelModerator(request: AddChannelModeratorRequest): Promise<AddChannelModeratorResult>;
  /** How many of the user's channels have unread messages. Throws `NoActiveSessionError`. */
  getUnreadChannelsCount(request?: GetUnreadChannelsRequest): Promise<GetCountResult>;
  /** 2.x alias of `getUnreadChannelsCount`. */
  countUnreadChannels(request?: GetUnreadChannelsRequest): Promise<GetCountResult>;
  /** Whether the channel has unread messages. Throws `NoActiveSessionError`. */
  getChannelUnread(request: GetChannelUnreadRequest): Promise<GetChannelUnreadResult>;
  /** 2.x alias of `getChannelUnread`. */
  checkChannelUnread(request: GetChannelUnreadRequest): Promise<GetChannelUnreadResult>;
  /** Marks the channel read; resolves with the channel passed in. Throws `NoActiveSessionError`. */
  readChannel(request: ReadChannelRequest): Promise<ReadChannelResult>;
  /** Mutes a channel's notifications. Throws `NoActiveSessionError`. */
  muteChannel(request: MuteChannelRequest): Promise<MuteChannelResult>;
  /** Unmutes a channel. Throws `NoActiveSessionError`. */
  unmuteChannel(request: UnmuteChannelRequest): Promise<UnmuteChannelResult>;
  /** Clears the channel's history for the user. Throws `NoActiveSessionError`. */
  clearChannelHistory(request: ClearChannelHistoryRequest): Promise<ClearChannelHistoryResult>;
  /** Hides a direct channel until a new message arrives. */
  hideChannel(request: HideChannelRequest): Promise<HideChannelResult>;
  /**
   * Sends a text message, an external file, or uploads a File/Blob/`{uri}` with
   * real progress. Throws `NoActiveSessionError`. Offline, a text or external-file
   * message waits for the connection (up to `sendTimeout`, then it fails with
   * `ChatKittyTimeoutError`); it carries an `idempotency-key`, so one cut off by a
   * drop is sent again and stored once.
   */
  sendMessage(request: SendMessageRequest): Promise<SendMessageResult>;
  /** Messages (newest first) or replies. Throws `NoActiveSessionError`. */
  getMessages(request: GetMessagesRequest): Promise<GetMessagesResult>;
  /** 2.x alias of `getMessages`. */
  listMessages(request: GetMessagesRequest): Promise<GetMessagesResult>;
  /** Unread messages in all the user's channels, or in one. Throws `NoActiveSessionError`. */
  getUnreadMessagesCount(request?: GetUnreadMessagesCountRequest): Promise<GetCountResult>;
  /** 2.x alias of `getUnreadMessagesCount`. */
  countUnreadMessages(request?: GetUnreadMessagesCountRequest): Promise<GetCountResult>;
  /**
   * Sends a custom event to the channel's participants; resolves with the channel
   * passed in. Throws `NoActiveSessionError`.
   */
  triggerEvent(request: TriggerEventRequest): Promise<TriggerEventResult>;
  /** Marks a message read; resolves with the message passed in. */
  readMessage(request: ReadMessageRequest): Promise<ReadMessageResult>;
  /** A user's last read message in a channel (`message` undefined when none). */
  getLastReadMessage(request: GetLastReadMessageRequest): Promise<GetLastReadMessageResult>;
  /** 2.x alias of `getLastReadMessage`. */
  retrieveLastReadMessage(request: GetLastReadMessageRequest): Promise<GetLastReadMessageResult>;
  /** Edits a message's text. */
  editMessage(request: EditMessageRequest): Promise<EditMessageResult>;
  /** How many replies a message has. */
  getMessageRepliesCount(request: GetMessageRepliesCountRequest): Promise<GetCountResult>;
  /** 2.x alias of `getMessageRepliesCount`. */
  countMessageReplies(request: GetMessageRepliesCountRequest): Promise<GetCountResult>;
  /** The channel of a message. */
  getMessageChannel(request: GetMessageChannelRequest): Promise<GetMessageChannelResult>;
  /** 2.x alias of `getMessageChannel`. */
  retrieveMessageChannel(request: GetMessageChannelRequest): Promise<GetMessageChannelResult>;
  /** The message a reply answers; rejects with `MessageNotAReplyError` otherwise. */
  getMessageParent(request: GetMessageParentRequest): Promise<GetMessageParentResult>;
  /** 2.x alias of `getMessageParent`. */
  retrieveMessageParent(request: GetMessageParentRequest): Promise<GetMessageParentResult>;
  /** Creates a stand-alone thread in a channel. */
  createThread(request: CreateThreadRequest): Promise<CreateThreadResult>;
  /** A channel's threads. */
  getThreads(request: GetThreadsRequest): Promise<GetThreadsResult>;
  /** 2.x alias of `getThreads`. */
  listThreads(request: GetThreadsRequest): Promise<GetThreadsResult>;
  /** The channel of a thread. */
  getThreadChannel(request: GetThreadChannelRequest): Promise<GetThreadChannelResult>;
  /** 2.x alias of `getThreadChannel`. */
  listThreadChannel(request: GetThreadChannelRequest): Promise<GetThreadChannelResult>;
  /** The message a thread hangs from. */
  getThreadMessage(request: GetThreadMessageRequest): Promise<GetThreadMessageResult>;
  /** 2.x alias of `getThreadMessage`. */
  listThreadMessage(request: GetThreadMessageRequest): Promise<GetThreadMessageResult>;
  /** Marks a thread read; resolves with the thread passed in. Throws `NoActiveSessionError`. */
  readThread(request: ReadThreadRequest): Promise<ReadThreadResult>;
  /** Reacts to a message with an emoji alias or character. */
  reactToMessage(request: ReactToMessageRequest): Promise<ReactToMessageResult>;
  /** A message's reactions. */
  getReactions(request: GetReactionsRequest): Promise<GetReactionsResult>;
  /** 2.x alias of `getReactions`. */
  listReactions(request: GetReactionsRequest): Promise<GetReactionsResult>;
  /** Removes the user's reaction. */
  removeReaction(request: RemoveReactionRequest): Promise<RemoveReactionResult>;
  /** Deletes a message for the user only. */
  deleteMessageForMe(request: DeleteMessageForMeRequest): Promise<DeleteMessageForMeResult>;
  /** Deletes a message for everyone. */
  deleteMessage(request: DeleteMessageRequest): Promise<DeleteMessageResult>;
  /** The channel's members. Throws `NoActiveSessionError`. */
  getChannelMembers(request: GetChannelMembersRequest): Promise<GetUsersResult>;
  /** 2.x alias of `getChannelMembers`. */
  listChannelMembers(request: GetChannelMembersRequest): Promise<GetUsersResult>;
  /** A message's read receipts. Throws `NoActiveSessionError`. */
  getReadReceipts(request: GetReadReceiptsRequest): Promise<GetReadReceiptsResult>;
  /** 2.x alias of `getReadReceipts`. */
  listReadReceipts(request: GetReadReceiptsRequest): Promise<GetReadReceiptsResult>;
  /** The user's contacts. Throws `NoActiveSessionError`. */
  getUsers(request?: GetUsersRequest): Promise<GetUsersResult>;
  /** 2.x alias of `getUsers`. */
  listUsers(request?: GetUsersRequest): Promise<GetUsersResult>;
  /** How many contacts match. Throws `NoActiveSessionError`. */
  getUsersCount(request?: GetUsersRequest): Promise<GetCountResult>;
  /** 2.x alias of `getUsersCount`. */
  listUsersCount(request?: GetUsersRequest): Promise<GetCountResult>;
  /** Invites a user. Throws `ChannelNotInvitableError` when the channel has no invite action. */
  inviteUser(request: InviteUserRequest): Promise<InviteUserResult>;
  /** A user by id (resolves failed on a server error). */
  getUser(id: number): Promise<GetUserResult>;
  /** 2.x alias of `getUser`. */
  retrieveUser(id: number): Promise<GetUserResult>;
  /** Whether a user is a member of a channel. Throws `NoActiveSessionError`. */
  getUserIsChannelMember(request: GetUserIsChannelMemberRequest): Promise<GetUserIsChannelMemberResult>;
  /** 2.x alias of `getUserIsChannelMember`. */
  checkUserIsChannelMember(request: GetUserIsChannelMemberRequest): Promise<GetUserIsChannelMemberResult>;
  /** Blocks a user. */
  blockUser(request: BlockUserRequest): Promise<BlockUserResult>;
  /** The users the current user blocked. Throws `NoActiveSessionError`. */
  getUserBlockList(): Promise<GetUserBlockListResult>;
  /** 2.x alias of `getUserBlockList`. */
  listUserBlockedRecords(): Promise<GetUserBlockListResult>;
  /** Unblocks; resolves with the unblocked user. */
  deleteUserBlockListItem(request: DeleteUserBlockListItemRequest): Promise<DeleteUserBlockListItemResult>;
  /** 2.x alias of `deleteUserBlockListItem`. */
  deleteUserBlockedRecord(request: DeleteUserBlockListItemRequest): Promise<DeleteUserBlockListItemResult>;
  /** A fresh copy of the current user. Throws `NoActiveSessionError`. */
  getCurrentUser(): Promise<GetCurrentUserResult>;
  /** 2.x alias of `getCurrentUser`. */
  retrieveCurrentUser(): Promise<GetCurrentUserResult>;
  /**
   * Full-text search over the messages the user may read, newest first (an extension
   * beyond chatkitty 1.58.2: docs/api.md §8). A page may hold fewer results than its
   * size when the server stopped early; `paginator.hasNextPage` says whether to go on.
   * Throws `NoActiveSessionError`.
   */
  searchMessages(request: SearchMessagesRequest): Promise<SearchMessagesResult>;
  /**
   * Reports a message to the application's moderators (an extension beyond
   * chatkitty 1.58.2: docs/api.md §16.1); reporting it again changes nothing. Resolves
   * with the message passed in. Throws `NoActiveSessionError`.
   */
  flagMessage(request: FlagMessageRequest): Promise<FlagMessageResult>;
  /**
   * Bans a member from a channel you moderate, for `durationSeconds` or until unbanned
   * (an extension: docs/api.md §16.1): they leave it and can neither read, join nor be
   * invited back. Resolves with the channel passed in. Throws `NoActiveSessionError`.
   */
  banChannelMember(request: BanChannelMemberRequest): Promise<BanChannelMemberResult>;
  /**
   * Lifts a member's ban from a channel you moderate (an extension: docs/api.md
   * §16.1). Resolves with the channel passed in. Throws `NoActiveSessionError`.
   */
  unbanChannelMember(request: UnbanChannelMemberRequest): Promise<UnbanChannelMemberResult>;
  /**
   * Mutes a member of a channel you moderate, for `durationSeconds` or until unmuted
   * (an extension: docs/api.md §16.1): they still read, and their messages fail with
   * `MutedError`. Resolves with the channel passed in. Throws `NoActiveSessionError`.
   */
  muteChannelMember(request: MuteChannelMemberRequest): Promise<MuteChannelMemberResult>;
  /**
   * Lifts a member's mute in a channel you moderate (an extension: docs/api.md
   * §16.1). Resolves with the channel passed in. Throws `NoActiveSessionError`.
   */
  unmuteChannelMember(request: UnmuteChannelMemberRequest): Promise<UnmuteChannelMemberResult>;
  /**
   * Sets the seconds a member of a channel you moderate must wait between messages (0:
   * off; moderators are exempt; an extension: docs/api.md §16.1). Messages sent sooner
   * fail with `SlowModeError`. Resolves with the channel passed in. Throws
   * `NoActiveSessionError`.
   */
  setChannelSlowMode(request: SetChannelSlowModeRequest): Promise<SetChannelSlowModeResult>;
  // ----- end of generated code -----
}

export default ChatKitty;

/** Where the WebAssembly module is: a URL, a `Response` (or a Promise of one), its
 * bytes, or a compiled `WebAssembly.Module`. */
export type InitInput =
  | string
  | URL
  | Request
  | Response
  | PromiseLike<Response>
  | BufferSource
  | WebAssembly.Module;

/**
 * Loads the WebAssembly module. Optional: the first call that needs it loads it (the
 * entry knows where it is), and calls made before then wait for it. Call it to load
 * the module early, or from where you serve `chatkitty-wasm/chatkitty_wasm_bg.wasm`
 * yourself. Later calls return the first call's Promise.
 *
 * @example
 * ```ts
 * import { init } from 'chatkitty-wasm';
 * await init('/static/chatkitty_wasm_bg.wasm'); // a copy you serve yourself
 * ```
 */
export declare function init(input?: InitInput): Promise<void>;
/** Loads the WebAssembly module synchronously from its bytes or a compiled
 * `WebAssembly.Module` (Node, workers; browsers refuse to compile large modules
 * synchronously on the main thread). Without an argument, in Node only: from the
 * package's folder. It does not look for the `ws` package: on Node 20, pass
 * `WebSocket` to the constructor. */
export declare function initSync(input?: BufferSource | WebAssembly.Module): void;

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
export declare function isSystemSentMessageNotification(n: Notification): n is SystemSentMessageNotification;
export declare function isUserSentMessageNotification(n: Notification): n is UserSentMessageNotification;
export declare function isUserRepliedToMessageNotification(n: Notification): n is UserRepliedToMessageNotification;
export declare function isUserMentionedNotification(n: Notification): n is UserMentionedNotification;
export declare function isUserMentionedChannelNotification(n: Notification): n is UserMentionedChannelNotification;
/** Upload outcome passed to `onCompleted` (with the enum's reverse mapping). */
export declare enum ChatKittyUploadResult {
  COMPLETED = 0,
  FAILED = 1,
  CANCELLED = 2,
}
