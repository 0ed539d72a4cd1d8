//! What replicas share through Redis when `JOBPILOT_REDIS_URL` is set: rate-limit counters (so a
//! client's allowance is the same whichever replica it reaches) and session revocations (so a
//! sign-out on one replica is honoured by every other at once, not after their session cache
//! expires). Without Redis each replica counts and caches on its own.

use std::time::Duration;

use redis::{AsyncCommands as _, Script, aio::ConnectionManager};

/// GCRA in one round trip, on Redis's clock so replicas' clocks do not matter.
/// Returns {allowed (0/1), milliseconds: remaining capacity if allowed, retry-after if not}.
const GCRA: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
local ahead = next_tat - now
if ahead > period then
  return {0, ahead - period}
end
redis.call('SET', KEYS[1], next_tat, 'PX', ahead)
return {1, period - ahead}
";

/// The Redis connection and what goes over it.
#[derive(Clone)]
pub struct Shared {
    client: redis::Client,
    connection: ConnectionManager,
    prefix: String,
    gcra: Script,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A Redis verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedDecision {
    Allowed,
    Limited { retry_after: Duration },
}

impl Shared {
    /// Connects (with a timeout) so a wrong URL fails at start-up, not on the first request.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let connection = tokio::time::timeout(
            Duration::from_secs(5),
            ConnectionManager::new(client.clone()),
        )
        .await
        .map_err(|_| {
            redis::RedisError::from((redis::ErrorKind::Io, "timed out connecting to Redis"))
        })??;
        Ok(Self {
            client,
            connection,
            prefix: prefix.to_owned(),
            gcra: Script::new(GCRA),
        })
    }

    fn channel(&self) -> String {
        format!("{}:sessions", self.prefix)
    }

    /// Counts a request against a limit shared by every replica.
    pub async fn check(
        &self,
        rule: &str,
        key: &str,
        limit: u32,
        period: Duration,
    ) -> Result<SharedDecision, redis::RedisError> {
        let period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
        let interval_ms = (period_ms / u64::from(limit.max(1))).max(1);
        let mut connection = self.connection.clone();
        let (allowed, millis): (i64, i64) = self
            .gcra
            .key(format!("{}:rl:{rule}:{key}", self.prefix))
            .arg(interval_ms)
            .arg(period_ms)
            .invoke_async(&mut connection)
            .await?;
        Ok(if allowed == 1 {
            SharedDecision::Allowed
        } else {
            SharedDecision::Limited {
                retry_after: Duration::from_millis(u64::try_from(millis).unwrap_or(0)),
            }
        })
    }

    /// Tells every replica that a session (or, with `None`, possibly several) ended.
    pub async fn publish_revocation(&self, session: Option<domain::SessionId>) {
        let message = session.map_or_else(|| "*".to_owned(), |id| id.to_string());
        let mut connection = self.connection.clone();
        let sent: Result<i64, _> = connection.publish(self.channel(), message).await;
        if let Err(error) = sent {
            tracing::warn!(error = %error, "could not announce a session revocation to the other replicas");
        }
    }

    /// Listens for other replicas' revocations and applies them to this replica's cache; keeps
    /// reconnecting while the process runs.
    pub fn follow_revocations(&self, sessions: std::sync::Weak<crate::authn::SessionCache>) {
        let client = self.client.clone();
        let channel = self.channel();
        tokio::spawn(async move {
            loop {
                if sessions.strong_count() == 0 {
                    return;
                }
                match listen(&client, &channel, &sessions).await {
                    Ok(()) => return,
                    Err(error) => {
                        tracing::warn!(error = %error, "lost the Redis revocation channel; reconnecting");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }
}

async fn listen(
    client: &redis::Client,
    channel: &str,
    sessions: &std::sync::Weak<crate::authn::SessionCache>,
) -> Result<(), redis::RedisError> {
    use futures_util::StreamExt as _;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let Some(sessions) = sessions.upgrade() else {
            return Ok(());
        };
        let payload: String = message.get_payload()?;
        match payload.parse::<uuid::Uuid>() {
            Ok(id) => sessions.forget_locally(domain::SessionId::from_uuid(id)),
            Err(_) => sessions.forget_all_locally(),
        }
    }
    Err(redis::RedisError::from((
        redis::ErrorKind::Io,
        "the subscription ended",
    )))
}
