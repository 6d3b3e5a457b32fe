//! The `[store]` section: where actors' histories are shared between processes and hosts (a
//! Redis or Valkey server), and what a check does when that server cannot answer. Plain data,
//! read whatever features are on, so one configuration file serves the CLI and a service alike.
//!
//! ```toml
//! [store]
//! url = "redis://127.0.0.1:6379/0"   # also rediss://, redis+unix:///run/redis.sock
//! prefix = "pattern-guard:"          # every key starts with it
//! timeout_ms = 50                    # no check waits longer for the store
//! on_error = "local"                 # or "allow", "block": the decision while the store is out
//! lease_secs = 15                    # a running instance's slot outlives a crashed host this long
//! ```
//!
//! Without `url` (and without `--store` or `$PATTERN_GUARD_STORE` for the CLI) histories stay
//! local. A password in the URL is never shown: [`redact`] is what every message prints.

use std::fmt;

use serde::Deserialize;

/// What a check decides when the store cannot answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnError {
    /// Decide from this process's own memory of the actor (what it has seen and checked), and
    /// warn once per outage.
    #[default]
    Local,
    /// Allow every event until the store is back.
    Allow,
    /// Block every event until the store is back.
    Block,
}

impl fmt::Display for OnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnError::Local => "local",
            OnError::Allow => "allow",
            OnError::Block => "block",
        })
    }
}

/// The `[store]` section, resolved.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct StoreSettings {
    /// The server, `redis://[user:password@]host:port/db`, `rediss://...` (TLS) or
    /// `redis+unix:///path/to/socket`. `None`: histories are local.
    pub url: Option<String>,
    /// Every key starts with this, so several guards (or tests) can share one server.
    pub prefix: String,
    /// The longest a check waits for the store, in milliseconds.
    pub timeout_ms: u64,
    /// The decision while the store cannot answer.
    pub on_error: OnError,
    /// How long a running instance's slot (`max_concurrent`) is held without renewal, in seconds;
    /// the wrapper renews it every third of that while the command runs.
    pub lease_secs: u64,
}

impl fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreSettings")
            .field("url", &self.url.as_deref().map(redact))
            .field("prefix", &self.prefix)
            .field("timeout_ms", &self.timeout_ms)
            .field("on_error", &self.on_error)
            .field("lease_secs", &self.lease_secs)
            .finish()
    }
}

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "pattern-guard:";

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: None,
            prefix: DEFAULT_PREFIX.into(),
            timeout_ms: 50,
            on_error: OnError::Local,
            lease_secs: 15,
        }
    }
}

/// `url` with any password replaced by `***`: the user-info after its `:` and the `pass` /
/// `password` query parameters (the unix-socket form). Everything shown to people goes
/// through this.
pub fn redact(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split_once(':').map_or("", |(u, _)| u);
                    format!("{scheme}://{user}:***@{host}{path}")
                }
                None => head.to_string(),
            }
        }
        None => head.to_string(),
    };
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _))
                    if k.eq_ignore_ascii_case("pass") || k.eq_ignore_ascii_case("password") =>
                {
                    format!("{k}=***")
                }
                _ => p.to_string(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

/// `[store]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    #[serde(default)]
    pub url: Option<toml::Spanned<String>>,
    #[serde(default)]
    pub prefix: Option<toml::Spanned<String>>,
    #[serde(default)]
    pub timeout_ms: Option<toml::Spanned<u64>>,
    #[serde(default)]
    pub on_error: Option<OnError>,
    #[serde(default)]
    pub lease_secs: Option<toml::Spanned<u64>>,
}

/// The longest `timeout_ms` accepted: a check is never meant to wait longer.
pub const MAX_TIMEOUT_MS: u64 = 60_000;

impl RawStore {
    /// Checks and resolves the section.
    pub fn resolve(self) -> Result<StoreSettings, super::http::Refused> {
        let mut s = StoreSettings::default();
        let refuse = |key: &str, why: String, span: std::ops::Range<usize>| {
            Err((format!("store.{key}"), why, Some(span)))
        };
        if let Some(url) = self.url {
            if let Err(why) = check_url(url.get_ref()) {
                return refuse("url", why, url.span());
            }
            s.url = Some(url.into_inner());
        }
        if let Some(prefix) = self.prefix {
            if prefix.get_ref().len() > 128 {
                return refuse("prefix", "must be at most 128 bytes".into(), prefix.span());
            }
            s.prefix = prefix.into_inner();
        }
        if let Some(t) = self.timeout_ms {
            if !(1..=MAX_TIMEOUT_MS).contains(t.get_ref()) {
                let why = format!(
                    "must be between 1 and {MAX_TIMEOUT_MS}, found {}",
                    t.get_ref()
                );
                return refuse("timeout_ms", why, t.span());
            }
            s.timeout_ms = t.into_inner();
        }
        if let Some(on_error) = self.on_error {
            s.on_error = on_error;
        }
        if let Some(l) = self.lease_secs {
            if !(3..=86_400).contains(l.get_ref()) {
                let why = format!("must be between 3 and 86400, found {}", l.get_ref());
                return refuse("lease_secs", why, l.span());
            }
            s.lease_secs = l.into_inner();
        }
        Ok(s)
    }
}

/// Whether `url` names a store this build can reach; the message says what to write instead.
pub fn check_url(url: &str) -> Result<(), String> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("redis" | "rediss" | "redis+unix" | "unix" | "valkey" | "valkeys") => Ok(()),
        _ => Err(format!(
            "`{}` is not a Redis URL: write redis://HOST:PORT/DB, rediss://HOST:PORT/DB (TLS) \
             or redis+unix:///path/to/socket",
            redact(url)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            ("redis://:s3cret@host:6379/2", "redis://:***@host:6379/2"),
            ("redis://alice:s3cret@host/1", "redis://alice:***@host/1"),
            ("rediss://alice:p@ss@word@host", "rediss://alice:***@host"),
            ("redis://tokenonly@host", "redis://:***@host"),
            (
                "redis+unix:///run/redis.sock?db=1&pass=s3cret",
                "redis+unix:///run/redis.sock?db=1&pass=***",
            ),
        ] {
            let redacted = redact(url);
            assert_eq!(redacted, shown);
            assert!(!redacted.contains("s3cret") && !redacted.contains("word"));
        }
        let settings = StoreSettings {
            url: Some("redis://:s3cret@host".into()),
            ..StoreSettings::default()
        };
        assert!(!format!("{settings:?}").contains("s3cret"));
    }

    #[test]
    fn only_redis_urls_are_taken() {
        assert!(check_url("redis://localhost").is_ok());
        assert!(check_url("redis+unix:///tmp/r.sock").is_ok());
        let err = check_url("http://:s3cret@localhost").unwrap_err();
        assert!(
            err.contains("redis://HOST:PORT/DB") && !err.contains("s3cret"),
            "{err}"
        );
        assert!(check_url("localhost:6379").is_err());
    }
}
