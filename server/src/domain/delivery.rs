//! Who gets what: a new message's audience (members, their flags, the blocks between
//! them and the sender) and the typing events of a thread (docs/protocol.md §13.3,
//! §13.5). A store failure while working out an audience fails the delivery rather
//! than reaching users who blocked the sender.

use chatkitty_protocol::destination::{ChannelTopic, ThreadTopic, Topic, UserTopic};
use chatkitty_protocol::error::names;
use chatkitty_protocol::event::types;
use chatkitty_protocol::resource::{self as res, ChannelType};
use chatkitty_protocol::thread::ThreadKey;

use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::Exclude;
use crate::state::{event_json, AppState};
use crate::store::{ChannelRow, Member, UserRow};

/// Who a new message goes to, loaded before it is stored: the channel's members (with
/// their mute and hide flags), the sender as stored now and the users who blocked them.
pub struct Audience {
    /// The channel's members.
    pub members: Vec<Member>,
    /// The sender, freshly loaded (another session may have renamed them).
    pub sender: Option<UserRow>,
    /// Users who blocked the sender: they do not get the message.
    pub blockers: Vec<i64>,
    /// The members' rows last loaded for notifications, and whose: the messages of one
    /// batch of SENDs share this audience, and most of the time the same members to
    /// notify (docs/protocol.md §3.3, "Sends arriving together"), so they share one
    /// load of them.
    notified: std::sync::Mutex<Option<(Vec<i64>, Vec<UserRow>)>>,
    /// The channel as a group channel's notifications show it to every member, before
    /// the message is put in it, and whether for the main thread: rendered once for a
    /// batch as well.
    group_view: std::sync::Mutex<Option<(bool, res::Channel)>>,
}

impl Audience {
    /// The rows of the users `ids` (in the store's order), loaded once for all the
    /// messages sharing this audience that notify the same users: a batch of five
    /// SENDs into a channel of 100 read the 100 members once instead of five times.
    pub async fn users_to_notify(
        &self,
        state: &AppState,
        app_id: i64,
        ids: &[i64],
    ) -> ApiResult<Vec<UserRow>> {
        if let Some((whose, rows)) = &*self.notified_rows() {
            if whose == ids {
                return Ok(rows.clone());
            }
        }
        let rows = state.store.users_by_ids(app_id, ids).await?;
        *self.notified_rows() = Some((ids.to_vec(), rows.clone()));
        Ok(rows)
    }

    /// The group view rendered for an earlier message of the batch (the same place:
    /// main thread or not), if any.
    pub fn group_view(&self, main_thread: bool) -> Option<res::Channel> {
        let kept = self.group_view.lock().unwrap_or_else(|e| e.into_inner());
        kept.as_ref()
            .filter(|(main, _)| *main == main_thread)
            .map(|(_, view)| view.clone())
    }

    /// Keeps the group view for the batch's next messages.
    pub fn keep_group_view(&self, main_thread: bool, view: &res::Channel) {
        *self.group_view.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((main_thread, view.clone()));
    }

    fn notified_rows(&self) -> std::sync::MutexGuard<'_, Option<(Vec<i64>, Vec<UserRow>)>> {
        self.notified.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The audience of a message `sender` sends, refused in a direct channel where
    /// one member blocked the other.
    pub fn new(
        channel: &ChannelRow,
        sender: i64,
        members: Vec<Member>,
        sender_row: Option<UserRow>,
        blockers: Vec<i64>,
        blocked: &[i64],
    ) -> ApiResult<Audience> {
        if channel.kind == ChannelType::Direct
            && members
                .iter()
                .any(|m| m.id != sender && (blockers.contains(&m.id) || blocked.contains(&m.id)))
        {
            return Err(ApiError::new(
                names::USER_BLOCKED,
                "This conversation is blocked: one of its members has blocked the other.",
            ));
        }
        Ok(Audience {
            members,
            sender: sender_row,
            blockers,
            notified: Default::default(),
            group_view: Default::default(),
        })
    }
}

/// Loads a new message's [`Audience`] (`sender` is `None` for system messages),
/// refusing it in a direct channel where one member blocked the other.
pub async fn audience(
    state: &AppState,
    channel: &ChannelRow,
    sender: Option<i64>,
) -> ApiResult<Audience> {
    let (members, sender_row) = state.store.channel_members(channel.id, sender).await?;
    let Some(sender) = sender else {
        return Ok(Audience {
            members,
            sender: None,
            blockers: Vec::new(),
            notified: Default::default(),
            group_view: Default::default(),
        });
    };
    let (blockers, blocked) = state.store.blocks_of(sender).await?;
    Audience::new(channel, sender, members, sender_row, blockers, &blocked)
}

/// Publishes typing started/stopped for `user` in a thread: on the thread's (for the
/// main thread: the channel's) typing topic, and to the other members' `participants`
/// user topics; never to users who blocked them.
pub async fn typing(
    state: &AppState,
    key: ThreadKey,
    cid: i64,
    user: &UserRow,
    started: bool,
) -> ApiResult<()> {
    let rendered = state.render_user(user);
    let (thread_type, member_type) = if started {
        (
            types::THREAD_TYPING_STARTED,
            types::PARTICIPANT_TYPING_STARTED,
        )
    } else {
        (
            types::THREAD_TYPING_STOPPED,
            types::PARTICIPANT_TYPING_STOPPED,
        )
    };
    let mut excluded = state.store.blockers_of(user.id).await?;
    excluded.push(user.id);
    let dest = match key {
        ThreadKey::Main(_) => Topic::Channel(cid as u64, ChannelTopic::Typing).to_destination(),
        _ => key.topic(ThreadTopic::Typing),
    };
    state.publish(
        &dest,
        &event_json(thread_type, &rendered),
        Exclude::Users(&excluded),
    );
    let members = state.store.member_ids(cid).await?;
    let body = event_json(member_type, &rendered);
    for m in members.into_iter().filter(|m| !excluded.contains(m)) {
        let dest = Topic::User(m as u64, UserTopic::Participants).to_destination();
        state.publish(&dest, &body, Exclude::Nobody);
    }
    Ok(())
}

/// [`typing`], where nobody waits for the outcome (a lapse, a chat session ending): a
/// failure is logged and nothing is published.
pub async fn typing_or_log(
    state: &AppState,
    key: ThreadKey,
    cid: i64,
    user: &UserRow,
    started: bool,
) {
    if let Err(e) = typing(state, key, cid, user, started).await {
        tracing::error!(user = user.id, channel = cid, error = ?e, "publishing typing");
    }
}

/// The channel a thread belongs to (for typing that lapsed on another node).
pub async fn thread_channel(state: &AppState, key: ThreadKey) -> ApiResult<Option<i64>> {
    Ok(match key {
        ThreadKey::Main(c) => Some(c),
        ThreadKey::Standalone(t) => state.store.thread(t).await?.map(|t| t.channel_id),
        ThreadKey::Message(m) => state.store.message(m).await?.map(|m| m.channel_id),
    })
}
