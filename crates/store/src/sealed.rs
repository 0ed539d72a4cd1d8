//! The columns that hold values sealed with the key ring, for key status and rotation.

use async_trait::async_trait;

use crate::StoreResult;

/// Every column holding sealed values. Rotation walks them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    TotpSecret,
    TotpPending,
    AuditCheckpointSeal,
    ResumeText,
    HhAccessToken,
    HhRefreshToken,
    /// A version of an application's documents.
    ApplicationDocuments,
    /// A note in an application's history.
    ApplicationNote,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 8] = [
        SealedColumn::TotpSecret,
        SealedColumn::TotpPending,
        SealedColumn::AuditCheckpointSeal,
        SealedColumn::ResumeText,
        SealedColumn::HhAccessToken,
        SealedColumn::HhRefreshToken,
        SealedColumn::ApplicationDocuments,
        SealedColumn::ApplicationNote,
    ];

    /// The table and column, as bound into each value's associated data.
    pub fn place(self) -> (&'static str, &'static str) {
        match self {
            SealedColumn::TotpSecret => ("users", "totp_secret"),
            SealedColumn::TotpPending => ("users", "totp_pending"),
            SealedColumn::AuditCheckpointSeal => ("audit_checkpoints", "seal"),
            SealedColumn::ResumeText => ("resumes", "text_sealed"),
            SealedColumn::HhAccessToken => ("hh_connections", "access_sealed"),
            SealedColumn::HhRefreshToken => ("hh_connections", "refresh_sealed"),
            SealedColumn::ApplicationDocuments => ("application_documents", "content_sealed"),
            SealedColumn::ApplicationNote => ("application_events", "detail_sealed"),
        }
    }
}

/// One sealed value and the row it belongs to (the row id as bound into its associated data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub row: String,
    pub sealed: Vec<u8>,
}

#[async_trait]
pub trait SealedValues: Send + Sync {
    /// The column's sealed values in row order, after `after`.
    async fn sealed_values(
        &self,
        column: SealedColumn,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SealedValue>>;

    /// Replaces a sealed value if it is still `old` (a concurrent change wins); true if replaced.
    async fn replace_sealed(
        &self,
        column: SealedColumn,
        row: &str,
        old: &[u8],
        new: &domain::Sealed,
    ) -> StoreResult<bool> {
        let swap = SealedSwap {
            row: row.to_owned(),
            old: old.to_vec(),
            new: new.clone(),
        };
        Ok(self.replace_sealed_batch(column, &[swap]).await? == 1)
    }

    /// Several replacements in one transaction (one disk flush for a page of rotation); each
    /// is a compare-and-swap as in [`SealedValues::replace_sealed`]. Returns how many were
    /// replaced.
    async fn replace_sealed_batch(
        &self,
        column: SealedColumn,
        swaps: &[SealedSwap],
    ) -> StoreResult<u64>;

    /// The column's values still in plain text (written before the column was sealed), in
    /// row order after `after`. Only the applications' texts can have any.
    async fn plain_values(
        &self,
        column: SealedColumn,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<PlainValue>>;

    /// Stores each sealed value in place of its plain one (which is cleared), if the row is
    /// still plain, in one transaction. Returns how many were sealed.
    async fn seal_plain_batch(
        &self,
        column: SealedColumn,
        seals: &[(String, domain::Sealed)],
    ) -> StoreResult<u64>;
}

/// A value kept in plain text in a column that is now sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainValue {
    pub row: String,
    pub plain: String,
}

/// One compare-and-swap of a sealed value.
#[derive(Debug, Clone)]
pub struct SealedSwap {
    pub row: String,
    pub old: Vec<u8>,
    pub new: domain::Sealed,
}

impl PlainValue {
    /// A page row of [`SealedValues::plain_values`]: `row_key` and the column's plain columns
    /// (the documents' three, or a note's `detail`), read by `text`.
    pub fn from_columns(
        column: SealedColumn,
        text: impl Fn(&str) -> StoreResult<String>,
    ) -> StoreResult<Self> {
        let plain = match column {
            SealedColumn::ApplicationDocuments => crate::applications::plain_documents(
                &text("cover_letter")?,
                &text("cv_summary")?,
                &text("interview_questions")?,
            )?,
            _ => text("detail")?,
        };
        Ok(PlainValue {
            row: text("row_key")?,
            plain,
        })
    }
}
