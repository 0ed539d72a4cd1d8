//! Applying through HH.ru (feature `hh_apply`): a user connects their HH.ru account with
//! OAuth2, its tokens are kept sealed, refreshed when HH says they expired, and the
//! submission task sends `POST /negotiations` with the user's chosen HH.ru resume.
//!
//! The OAuth `state` is the user's id and an expiry sealed with the key ring: it cannot be
//! forged, and the callback must come from the same signed-in user, so nobody can link their
//! HH.ru account to someone else's jobpilot account (or the other way round).

use auth::{KeyRing, Place};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use domain::UserId;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sources::hh_apply::{HhApplyClient, HhError, HhTokens};
use store::Store;

/// How long a connect flow may take.
const FLOW_MINUTES: i64 = 10;

const STATE_PLACE: Place<'static> = Place {
    table: "hh_oauth",
    column: "state",
    row: "flow",
};

fn access_place(row: &str) -> Place<'_> {
    let (table, column) = store::SealedColumn::HhAccessToken.place();
    Place { table, column, row }
}

fn refresh_place(row: &str) -> Place<'_> {
    let (table, column) = store::SealedColumn::HhRefreshToken.place();
    Place { table, column, row }
}

#[derive(Serialize, Deserialize)]
struct Flow {
    user: uuid::Uuid,
    expires_at: i64,
    nonce: String,
}

/// A fresh `state` for the user's connect flow.
pub fn new_state(keys: &KeyRing, user: UserId) -> String {
    let nonce: [u8; 16] = rand::random();
    let flow = Flow {
        user: user.as_uuid(),
        expires_at: (Utc::now() + chrono::Duration::minutes(FLOW_MINUTES)).timestamp(),
        nonce: URL_SAFE_NO_PAD.encode(nonce),
    };
    let plain = serde_json::to_vec(&flow).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(keys.seal(&plain, STATE_PLACE).as_bytes())
}

/// Whether `state` is one this server made for this user, still in time.
pub fn state_matches(keys: &KeyRing, state: &str, user: UserId) -> bool {
    let Ok(sealed) = URL_SAFE_NO_PAD.decode(state) else {
        return false;
    };
    let Ok(plain) = keys.open(&sealed, STATE_PLACE) else {
        return false;
    };
    serde_json::from_slice::<Flow>(&plain)
        .is_ok_and(|flow| flow.user == user.as_uuid() && flow.expires_at > Utc::now().timestamp())
}

/// Why the user's HH.ru tokens cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no HH.ru account is connected")]
    NotConnected,
    #[error("the HH.ru connection no longer works ({0}); connect HH.ru again")]
    Reconnect(String),
    #[error(transparent)]
    Hh(HhError),
    #[error("the stored HH.ru tokens cannot be opened: {0}")]
    Sealed(String),
    #[error(transparent)]
    Store(store::StoreError),
}

/// Seals and stores the tokens of a fresh connection.
pub async fn save(
    store: &dyn Store,
    keys: &KeyRing,
    user: UserId,
    tokens: &HhTokens,
) -> Result<(), store::StoreError> {
    let (access, refresh) = seal(keys, user, tokens);
    store
        .save_hh_connection(user, &access, &refresh, tokens.expires_at, Utc::now())
        .await
}

/// The tokens sealed for their columns of the user's row.
fn seal(keys: &KeyRing, user: UserId, tokens: &HhTokens) -> (domain::Sealed, domain::Sealed) {
    let row = user.to_string();
    (
        keys.seal(
            tokens.access_token.expose_secret().as_bytes(),
            access_place(&row),
        ),
        keys.seal(
            tokens.refresh_token.expose_secret().as_bytes(),
            refresh_place(&row),
        ),
    )
}

/// The user's access token; refreshed first when HH considers it expired (`force`: because
/// HH just said so). A concurrent refresh wins: its tokens are used.
pub async fn access_token(
    store: &dyn Store,
    keys: &KeyRing,
    client: &HhApplyClient,
    user: UserId,
    force: bool,
) -> Result<String, TokenError> {
    let connection = store
        .hh_connection(user)
        .await
        .map_err(TokenError::Store)?
        .ok_or(TokenError::NotConnected)?;
    let row = user.to_string();
    let open = |sealed: &[u8], place| {
        keys.open(sealed, place)
            .map_err(|e| TokenError::Sealed(e.to_string()))
            .and_then(|plain| {
                String::from_utf8(plain.to_vec()).map_err(|e| TokenError::Sealed(e.to_string()))
            })
    };
    if !force && Utc::now() < connection.expires_at {
        return open(&connection.access_sealed, access_place(&row));
    }
    let refresh_token = open(&connection.refresh_sealed, refresh_place(&row))?;
    let tokens = match client.refresh(&refresh_token).await {
        Ok(tokens) => tokens,
        // HH refreshes only expired tokens: the one we hold still works.
        Err(HhError::TokenNotExpired) => {
            return open(&connection.access_sealed, access_place(&row));
        }
        Err(HhError::BadAuthorization { reason }) => return Err(TokenError::Reconnect(reason)),
        Err(other) => return Err(TokenError::Hh(other)),
    };
    let (access, refresh) = seal(keys, user, &tokens);
    let replaced = store
        .replace_hh_tokens(
            user,
            &connection.refresh_sealed,
            &access,
            &refresh,
            tokens.expires_at,
            Utc::now(),
        )
        .await
        .map_err(TokenError::Store)?;
    if replaced {
        return Ok(tokens.access_token.expose_secret().to_owned());
    }
    // Someone refreshed meanwhile (or disconnected): use what is stored now.
    let current = store
        .hh_connection(user)
        .await
        .map_err(TokenError::Store)?
        .ok_or(TokenError::NotConnected)?;
    open(&current.access_sealed, access_place(&row))
}

/// Runs an HH.ru call with the user's token, refreshing once when HH says it expired.
pub async fn with_token<T, F, Fut>(
    store: &dyn Store,
    keys: &KeyRing,
    client: &HhApplyClient,
    user: UserId,
    call: F,
) -> Result<T, TokenError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, HhError>>,
{
    let token = access_token(store, keys, client, user, false).await?;
    match call(token).await {
        Err(HhError::TokenExpired) => {
            let token = access_token(store, keys, client, user, true).await?;
            match call(token).await {
                Err(HhError::TokenExpired) => Err(TokenError::Reconnect(
                    "HH.ru keeps refusing the refreshed token".into(),
                )),
                other => other.map_err(hh_error),
            }
        }
        other => other.map_err(hh_error),
    }
}

fn hh_error(error: HhError) -> TokenError {
    match error {
        HhError::BadAuthorization { reason } => TokenError::Reconnect(reason),
        other => TokenError::Hh(other),
    }
}
