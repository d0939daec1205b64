//! Current-user and user actions (docs/protocol.md §6.1, 6.2, 13.3): profile updates,
//! display pictures, blocking.

use chatkitty_protocol::destination::UserTopic;
use chatkitty_protocol::event::types;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::state::event_json;
use crate::stomp::actions::str_field;
use crate::stomp::session::Session;

/// Presence statuses a user may choose (docs/protocol.md §12.1).
pub const STATUSES: [&str; 5] = [
    "AVAILABLE",
    "AWAY",
    "DO_NOT_DISTURB",
    "INVISIBLE",
    "OFFLINE",
];
/// Longest display name.
pub const MAX_DISPLAY_NAME: usize = 100;

impl Session {
    /// `updateCurrentUser`: the body is the whole CurrentUser the update function
    /// returned (docs/protocol.md §16.23); `displayName`, `properties`, `presence.status` and
    /// `displayPictureUrl` are applied, everything else ignored.
    pub async fn update_current_user(
        &mut self,
        body: &Value,
        receipt: Option<&str>,
    ) -> ApiResult<()> {
        let display = match str_field(body, "displayName")?.map(str::trim) {
            Some("") => return Err(ApiError::validation("`displayName` cannot be empty.")),
            Some(d) if d.chars().count() > MAX_DISPLAY_NAME => {
                return Err(ApiError::validation(format!(
                    "`displayName` is at most {MAX_DISPLAY_NAME} characters."
                )))
            }
            other => other,
        };
        let props = match body.get("properties") {
            None | Some(Value::Null) => None,
            Some(_) => Some(crate::limits::properties(
                body,
                self.state.config.max_properties_bytes,
            )?),
        };
        let status = match body.get("presence").and_then(|p| p.get("status")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => Some(s.as_str()),
            Some(other) => {
                return Err(ApiError::validation(format!(
                    "Unknown presence status {other}: use one of {}.",
                    STATUSES.join(", ")
                )))
            }
        };
        let picture = crate::limits::bounded(
            "displayPictureUrl",
            str_field(body, "displayPictureUrl")?,
            crate::limits::MAX_URL_CHARS,
        )?;
        let picture = match picture {
            Some(url) if Some(url) == Some(self.state.avatar_url(&self.user).as_str()) => None,
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => Some(url),
            Some(_) => {
                return Err(ApiError::validation(
                    "`displayPictureUrl` must be an http(s) URL.",
                ))
            }
            None => None,
        };
        let status_changed = status.is_some_and(|s| s != self.user.presence_status);
        self.state
            .store
            .update_user(self.user.id, display, props.as_deref(), status, picture)
            .await?;
        self.user_changed(receipt, status_changed).await
    }

    /// `updateCurrentUserDisplayPicture` with external file properties.
    pub async fn update_display_picture(
        &mut self,
        body: &Value,
        receipt: Option<&str>,
    ) -> ApiResult<()> {
        let url = body
            .get("url")
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .ok_or_else(|| ApiError::validation("A display picture needs the `url` (http or https) of an image; upload files to the displayPicture stream."))?;
        crate::limits::bounded("url", Some(url), crate::limits::MAX_URL_CHARS)?;
        self.state
            .store
            .update_user(self.user.id, None, None, None, Some(url))
            .await?;
        self.user_changed(receipt, false).await
    }

    /// After a profile change: the result to the actor, the new profile to contacts,
    /// presence events if the status changed.
    pub async fn user_changed(
        &mut self,
        receipt: Option<&str>,
        status_changed: bool,
    ) -> ApiResult<()> {
        if let Some(u) = self.state.store.user(self.app_id, self.user.id).await? {
            self.user = u;
        }
        let me = self.state.render_current_user(&self.user);
        self.reply_event(
            UserTopic::Self_,
            &event_json(types::USER_SELF_UPDATED, &me),
            receipt,
        );
        let public = self.state.render_user(&self.user);
        for c in self.state.store.contact_ids(self.user.id).await? {
            self.state.publish_to_user(
                c,
                UserTopic::Contacts,
                types::CONTACT_USER_UPDATED,
                &public,
            );
        }
        if status_changed {
            self.announce_presence().await;
        }
        Ok(())
    }

    /// `blockUser`.
    pub async fn block_user(&mut self, id: i64, receipt: Option<&str>) -> ApiResult<()> {
        let target = self.app_user(id).await?;
        if target.id == self.user.id {
            return Err(ApiError::validation("You cannot block yourself."));
        }
        self.state.store.block(self.user.id, target.id).await?;
        let rendered = self.state.render_user(&target);
        self.reply_event(
            UserTopic::Users,
            &event_json(types::USER_USER_BLOCKED, &rendered),
            receipt,
        );
        Ok(())
    }

    /// `deleteUserBlockListItem`.
    pub async fn unblock_user(&mut self, id: i64, receipt: Option<&str>) -> ApiResult<()> {
        let target = self.app_user(id).await?;
        if !self.state.store.unblock(self.user.id, target.id).await? {
            return Err(ApiError::not_found(format!("A block of {}", target.name)));
        }
        let rendered = self.state.render_user(&target);
        self.reply_event(
            UserTopic::Users,
            &event_json(types::USER_USER_UNBLOCKED, &rendered),
            receipt,
        );
        Ok(())
    }
}
