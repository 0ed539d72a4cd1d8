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
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 6] = [
        SealedColumn::TotpSecret,
        SealedColumn::TotpPending,
        SealedColumn::AuditCheckpointSeal,
        SealedColumn::ResumeText,
        SealedColumn::HhAccessToken,
        SealedColumn::HhRefreshToken,
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
}

/// One compare-and-swap of a sealed value.
#[derive(Debug, Clone)]
pub struct SealedSwap {
    pub row: String,
    pub old: Vec<u8>,
    pub new: domain::Sealed,
}
