//! Uploaded files' metadata (the bytes live on disk, see `crate::http::files`).

use sqlx::Row;

use super::{now_ms, Store, StoreResult};

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// Id.
    pub id: i64,
    /// Application.
    pub app_id: i64,
    /// Uploader.
    pub owner_id: Option<i64>,
    /// The channel whose members may download it (none: see `public`).
    pub channel_id: Option<i64>,
    /// Unguessable name on disk and in the URL.
    pub token: String,
    /// Original file name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Downloadable without a grant (display pictures).
    pub public: bool,
    /// The file message it was sent in, if any: deleting that message deletes it.
    pub message_id: Option<i64>,
}

impl Store {
    /// Records an uploaded file.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_file(
        &self,
        app_id: i64,
        owner_id: i64,
        channel_id: Option<i64>,
        token: &str,
        name: &str,
        content_type: &str,
        size: i64,
        public: bool,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO files (app_id, owner_id, channel_id, token, name, content_type, size, public, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(app_id)
        .bind(owner_id)
        .bind(channel_id)
        .bind(token)
        .bind(name)
        .bind(content_type)
        .bind(size)
        .bind(i64::from(public))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the message a file was sent in.
    pub async fn attach_file(&self, token: &str, message_id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE files SET message_id = $1 WHERE token = $2")
            .bind(message_id)
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The tokens of the files a message carries.
    pub async fn file_tokens_of_message(&self, message_id: i64) -> StoreResult<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT token FROM files WHERE message_id = $1")
                .bind(message_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// A file by its token.
    pub async fn file_by_token(&self, token: &str) -> StoreResult<Option<FileRow>> {
        let row = sqlx::query(
            "SELECT id, app_id, owner_id, channel_id, token, name, content_type, size, public, message_id \
             FROM files WHERE token = $1",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(FileRow {
                id: r.try_get(0)?,
                app_id: r.try_get(1)?,
                owner_id: r.try_get(2)?,
                channel_id: r.try_get(3)?,
                token: r.try_get(4)?,
                name: r.try_get(5)?,
                content_type: r.try_get(6)?,
                size: r.try_get(7)?,
                public: r.try_get::<i64, _>(8)? != 0,
                message_id: r.try_get(9)?,
            })
        })
        .transpose()
    }
}
