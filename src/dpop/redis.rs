//! A DPoP replay store in Redis (feature `redis`), for APIs running on
//! several machines: one `SET key 1 NX PX ttl` per proof, atomic in Redis,
//! so that of the replicas sharing a server at most one accepts a proof.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError, Value};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::replay::{ReplayFuture, ReplayStore, ReplayStoreError};
use crate::error::{causes, log_safe};

/// What every key starts with, by default.
const DEFAULT_KEY_PREFIX: &str = "bearer-guard:dpop:";
/// How long one call may take, by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);
/// Connection attempts after the first failed one, each time the connection
/// is (re)made; the delays between them grow from [`RETRY_MIN_DELAY`] to
/// [`RETRY_MAX_DELAY`]. Few and short: while Redis is down requests fail
/// (503) whatever the retries do, and a reconnection that gave up is started
/// again by the next request.
const RETRIES: usize = 3;
/// The first delay between two connection attempts.
const RETRY_MIN_DELAY: Duration = Duration::from_millis(50);
/// The longest delay between two connection attempts.
const RETRY_MAX_DELAY: Duration = Duration::from_millis(500);
/// How much of a message from Redis (or the client) goes into an error.
const MAX_REASON_CHARS: usize = 200;

/// A [`ReplayStore`] in Redis, shared by the replicas of an API: a proof
/// accepted by one replica is refused by every other one that uses the same
/// server (RFC 9449 §11.1). Available with the crate feature `redis`.
///
/// Each proof is one atomic `SET <prefix><key> 1 NX PX <window in ms>`:
/// Redis answers `OK` to the first call with a key (the proof is new) and
/// nothing to any other call within the window, whichever replica makes it.
/// Keys expire with the window (`max_age` plus the layer's leeway either
/// side), on Redis's clock, so Redis holds one key (the prefix and 43
/// characters, holding `1`) per proof accepted in the last window.
///
/// **Fails closed.** A call that fails (Redis down or unreachable, an error
/// reply, a reply other than `OK` or nothing, no answer within
/// [`timeout`](RedisReplayStoreBuilder::timeout), 500 ms by default) is an
/// error, and the request gets 503 with `Retry-After` and no challenge: a
/// proof is never accepted unchecked. The connection is multiplexed and
/// made again by itself after Redis comes back (the first request after an
/// outage may still get 503); calls time out on their own, so a Redis that
/// hangs delays requests by at most the timeout.
///
/// Connect once, before building the layer (the layer's builder stays
/// synchronous), inside the tokio runtime that serves the API:
///
/// ```no_run
/// use bearer_guard::{BearerAuthLayer, Dpop, RedisReplayStore};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let replay = RedisReplayStore::connect("redis://:PASSWORD@redis.internal:6379/0").await?;
/// let auth = BearerAuthLayer::builder()
///     .issuer("https://login.example.com")
///     .audience("https://api.example.com")
///     .dpop(Dpop::new("https://api.example.com").replay_store(replay))
///     .build()?;
/// # let _ = auth;
/// # Ok(())
/// # }
/// ```
///
/// **URLs.** `redis://[<user>][:<password>@]<host>[:<port>][/<db>]`, or a
/// Unix socket, `redis+unix:///path/to/redis.sock?db=0&user=U&pass=P`. The
/// password is used to log in and shown nowhere: not by `Debug`, not in
/// errors or logs, which name the server as `host:port/db`. `rediss://`
/// (TLS) needs TLS support in the `redis` crate, which this crate does not
/// enable (it would bring a second TLS configuration for one optional
/// store): [`connect`](RedisReplayStore::connect) then fails with an error
/// saying so. Turning on the `redis` crate's `tokio-rustls-comp` feature in
/// your own `Cargo.toml` enables it (Cargo unifies the features of a crate);
/// this crate's tests do not cover it.
///
/// **What it trusts.** Redis decides which proofs are new: anyone who can
/// write to its keys under the prefix can make proofs look replayed (a
/// denial of service) or, by deleting keys, let a replay through: keep
/// other clients away from them (a Redis of its own, or ACLs). One server
/// (or one primary): with
/// asynchronous replication, a proof recorded on a primary just before a
/// failover can be accepted again by the new primary within its window.
/// Redis Cluster is not supported.
#[derive(Clone)]
pub struct RedisReplayStore {
    connection: ConnectionManager,
    key_prefix: String,
    timeout: Duration,
    /// The server as `host:port/db` (or the socket's path): never the
    /// credentials.
    server: String,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("server", &self.server)
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The settings of a [`RedisReplayStore`], before it connects: from
/// [`RedisReplayStore::builder`].
#[derive(Clone)]
pub struct RedisReplayStoreBuilder {
    url: String,
    key_prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisReplayStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = match Client::open(self.url.as_str()) {
            Ok(client) => describe(&client),
            Err(_) => "(not a Redis URL)".to_owned(),
        };
        f.debug_struct("RedisReplayStoreBuilder")
            .field("server", &server)
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisReplayStore {
    /// Connects to the Redis at `url` with the default settings: keys
    /// prefixed `bearer-guard:dpop:`, 500 ms per call. See
    /// [`builder`](RedisReplayStore::builder) to change them.
    ///
    /// Fails if `url` is not a Redis URL, or if Redis cannot be reached
    /// (after four attempts, each bounded by the timeout: within a few
    /// seconds) or refuses the credentials. Call it inside a tokio runtime (with
    /// time enabled, as `#[tokio::main]` has): the connection lives on it.
    pub async fn connect(url: impl Into<String>) -> Result<Self, ReplayStoreError> {
        Self::builder(url).connect().await
    }

    /// The settings for a store at `url`, to change before
    /// [`connect`](RedisReplayStoreBuilder::connect)ing.
    pub fn builder(url: impl Into<String>) -> RedisReplayStoreBuilder {
        RedisReplayStoreBuilder {
            url: url.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Why a call failed, for the log: the server, never the credentials,
    /// and Redis's message escaped and bounded.
    fn failed(&self, error: &RedisError) -> ReplayStoreError {
        ReplayStoreError(format!(
            "Redis at {}: {}",
            self.server,
            log_safe(&causes(error).to_string(), MAX_REASON_CHARS)
        ))
    }
}

impl RedisReplayStoreBuilder {
    /// What every key starts with (default `bearer-guard:dpop:`): give each
    /// API its own when several share one Redis, so that one API's proofs
    /// are not seen as another's.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How long one call, connecting included, may take before it fails and
    /// the request gets 503 (default 500 ms). Also the limit of each
    /// connection attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects: see [`RedisReplayStore::connect`]. Also fails on a zero
    /// timeout (every call would fail).
    pub async fn connect(self) -> Result<RedisReplayStore, ReplayStoreError> {
        if self.timeout.is_zero() {
            return Err(ReplayStoreError(
                "the Redis replay store's timeout must not be zero".to_owned(),
            ));
        }
        let client = Client::open(self.url.as_str()).map_err(|e| {
            ReplayStoreError(format!(
                "not a usable Redis URL: {}",
                log_safe(&e.to_string(), MAX_REASON_CHARS)
            ))
        })?;
        let server = describe(&client);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(RETRIES)
            .set_min_delay(RETRY_MIN_DELAY)
            .set_max_delay(RETRY_MAX_DELAY);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| {
                ReplayStoreError(format!(
                    "cannot connect to Redis at {server}: {}",
                    log_safe(&causes(&e).to_string(), MAX_REASON_CHARS)
                ))
            })?;
        Ok(RedisReplayStore {
            connection,
            key_prefix: self.key_prefix,
            timeout: self.timeout,
            server,
        })
    }
}

/// The Redis key for a replay key: `prefix`, then the 32 bytes in
/// base64url (43 characters).
fn redis_key(prefix: &str, key: &[u8; 32]) -> String {
    let mut redis_key = String::with_capacity(prefix.len() + 43);
    redis_key.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(key, &mut redis_key);
    redis_key
}

/// The server `client` connects to, as `host:port/db` (a socket's path for
/// a Unix socket): no credentials.
fn describe(client: &Client) -> String {
    let info = client.get_connection_info();
    format!("{}/{}", info.addr(), info.redis_settings().db())
}

impl RedisReplayStore {
    /// One command with the store's timeout; outside a tokio runtime, an
    /// error.
    async fn query(&self, command: ::redis::Cmd) -> Result<Value, ReplayStoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ReplayStoreError(
                "Redis was asked outside a tokio runtime".to_owned(),
            ));
        }
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, command.query_async::<Value>(&mut connection))
            .await
        {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failed(&e)),
            Err(_) => Err(ReplayStoreError(format!(
                "Redis at {}: no answer within {:?}",
                self.server, self.timeout
            ))),
        }
    }

    /// `GET key`, as text (a shared cache's entry).
    pub(crate) async fn get_text(&self, key: &str) -> Result<Option<String>, ReplayStoreError> {
        let mut command = ::redis::cmd("GET");
        command.arg(key);
        match self.query(command).await? {
            Value::Nil => Ok(None),
            Value::BulkString(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| ReplayStoreError(format!("Redis at {}: not UTF-8", self.server))),
            _ => Err(ReplayStoreError(format!(
                "Redis at {}: unexpected reply to GET",
                self.server
            ))),
        }
    }

    /// `SET key value PX ttl` (a shared cache's entry).
    pub(crate) async fn set_text(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), ReplayStoreError> {
        let mut command = ::redis::cmd("SET");
        command
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        match self.query(command).await? {
            Value::Okay => Ok(()),
            Value::SimpleString(s) if s == "OK" => Ok(()),
            _ => Err(ReplayStoreError(format!(
                "Redis at {}: unexpected reply to SET",
                self.server
            ))),
        }
    }

    /// The server, as `host:port/db`, and the key prefix: what tells two
    /// stores apart.
    pub(crate) fn identity(&self) -> (&str, &str) {
        (&self.server, &self.key_prefix)
    }
}

impl ReplayStore for RedisReplayStore {
    fn insert_new(&self, key: [u8; 32], ttl: Duration) -> ReplayFuture<'_> {
        let mut command = ::redis::cmd("SET");
        command
            .arg(redis_key(&self.key_prefix, &key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            // Whole milliseconds, at least one (`PX 0` is an error); a value
            // Redis cannot take fails the call, and so the request, closed.
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        let mut connection = self.connection.clone();
        Box::pin(async move {
            // The timer needs a tokio runtime; outside one, fail, not panic.
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(ReplayStoreError(
                    "the Redis replay store was asked outside a tokio runtime".to_owned(),
                ));
            }
            let reply =
                tokio::time::timeout(self.timeout, command.query_async::<Value>(&mut connection))
                    .await;
            match reply {
                Ok(Ok(Value::Okay)) => Ok(true),
                Ok(Ok(Value::SimpleString(s))) if s == "OK" => Ok(true),
                Ok(Ok(Value::Nil)) => Ok(false),
                // Not what SET … NX answers: something else is listening.
                Ok(Ok(_)) => Err(ReplayStoreError(format!(
                    "Redis at {}: unexpected reply to SET NX",
                    self.server
                ))),
                Ok(Err(e)) => Err(self.failed(&e)),
                Err(_) => Err(ReplayStoreError(format!(
                    "Redis at {}: no answer within {:?}",
                    self.server, self.timeout
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builders_debug_names_the_server_and_never_the_password() {
        let builder = RedisReplayStore::builder("redis://alice:hunter2@redis.internal:6380/3")
            .key_prefix("notes:")
            .timeout(Duration::from_millis(250));
        let shown = format!("{builder:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("alice"), "{shown}");
        assert!(shown.contains("redis.internal:6380/3"), "{shown}");
        assert!(shown.contains("notes:"), "{shown}");
        let socket = RedisReplayStore::builder("redis+unix:///run/redis.sock?db=2&pass=hunter2");
        let shown = format!("{socket:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("/run/redis.sock/2"), "{shown}");
        let odd = format!("{:?}", RedisReplayStore::builder("http://x:hunter2@y"));
        assert!(!odd.contains("hunter2"), "{odd}");
    }

    #[test]
    fn connecting_can_be_spawned() {
        fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
        spawnable(RedisReplayStore::connect(String::from("redis://127.0.0.1")));
        spawnable(RedisReplayStore::builder("redis://127.0.0.1").connect());
    }

    #[tokio::test]
    async fn bad_settings_fail_to_connect_without_showing_the_url() {
        let zero = RedisReplayStore::builder("redis://:hunter2@127.0.0.1:1")
            .timeout(Duration::ZERO)
            .connect()
            .await
            .expect_err("zero timeout");
        assert_eq!(
            zero.to_string(),
            "the Redis replay store's timeout must not be zero"
        );
        let scheme = RedisReplayStore::connect("http://:hunter2@127.0.0.1:1")
            .await
            .expect_err("not redis");
        assert!(
            scheme.to_string().starts_with("not a usable Redis URL: "),
            "{scheme}"
        );
        assert!(!scheme.to_string().contains("hunter2"), "{scheme}");
        let tls = RedisReplayStore::connect("rediss://:hunter2@127.0.0.1:1")
            .await
            .expect_err("no TLS");
        assert!(tls.to_string().contains("TLS"), "{tls}");
        assert!(!tls.to_string().contains("hunter2"), "{tls}");
    }

    #[test]
    fn keys_are_the_prefix_and_the_key_in_base64url() {
        let mut key = [0xfb; 32];
        key[0] = 0;
        assert_eq!(
            redis_key(DEFAULT_KEY_PREFIX, &key),
            "bearer-guard:dpop:APv7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s"
        );
    }
}
