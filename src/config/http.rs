//! The `[http]` section: how the HTTP layer (cargo feature `tower`) turns a request into an
//! actor and how long it may hold one. Plain data, read whatever features are on, so one
//! configuration file serves the CLI and a service alike.
//!
//! ```toml
//! [http]
//! key = "ip"                                  # or "header" (with header = "x-api-key")
//! trusted_proxies = ["10.0.0.0/8", "::1"]     # only these may say who the client is
//! ipv6_prefix = 64                            # one actor per /64
//! max_wait_secs = 5.0                         # a longer delay is answered as a block
//! unknown = "shared"                          # no key: one shared actor "unknown", or "pass"
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::Deserialize;

/// What identifies the client of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HttpKey {
    /// The client's IP address: the connection's peer, or, when the peer is a trusted proxy, the
    /// nearest address before the trusted ones in `Forwarded` / `X-Forwarded-For`.
    #[default]
    Ip,
    /// The value of this request header (an API key, a user id set by an auth layer).
    Header(String),
}

/// What to do with a request whose key cannot be found (no peer address, no header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnknownKey {
    /// Count it as the one actor `unknown`: keyless requests share one budget.
    #[default]
    Shared,
    /// Let it through unchecked.
    Pass,
}

/// The `[http]` section, resolved.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpSettings {
    /// What identifies the client.
    pub key: HttpKey,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` are believed. Empty: the headers are ignored.
    pub trusted_proxies: Vec<Cidr>,
    /// IPv6 clients are grouped by this prefix length (one actor per network of this size).
    pub ipv6_prefix: u8,
    /// The longest delay the layer waits out; a longer one is answered as a block.
    pub max_wait_secs: f64,
    /// Requests without a key.
    pub unknown: UnknownKey,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            key: HttpKey::Ip,
            trusted_proxies: Vec::new(),
            ipv6_prefix: 64,
            max_wait_secs: 5.0,
            unknown: UnknownKey::Shared,
        }
    }
}

/// An address range, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; anything else as it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| {
            format!("`{text}` is not an IP address or range (like 10.0.0.0/8 or ::1)")
        })?;
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `[http]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    #[serde(default)]
    pub key: Option<toml::Spanned<String>>,
    #[serde(default)]
    pub header: Option<toml::Spanned<String>>,
    #[serde(default)]
    pub trusted_proxies: Option<Vec<toml::Spanned<String>>>,
    #[serde(default)]
    pub ipv6_prefix: Option<toml::Spanned<u8>>,
    #[serde(default)]
    pub max_wait_secs: Option<toml::Spanned<f64>>,
    #[serde(default)]
    pub unknown: Option<toml::Spanned<UnknownKey>>,
}

/// A value that cannot be: its key, why, and where.
pub(super) type Refused = (String, String, Option<std::ops::Range<usize>>);

impl RawHttp {
    /// Checks and resolves the section.
    pub fn resolve(self) -> Result<HttpSettings, Refused> {
        let mut s = HttpSettings::default();
        let refuse = |key: &str, why: String, span: std::ops::Range<usize>| {
            Err((format!("http.{key}"), why, Some(span)))
        };
        // The header's name, from `header = "..."` or `key = "header:..."` (one of them), with
        // the key it was given under and where.
        let inline = self.key.as_ref().and_then(|k| {
            let (_, name) = k.get_ref().split_once(':')?;
            Some(("key", k.span(), name.trim().to_string()))
        });
        let header = match (inline, self.header) {
            (Some(_), Some(h)) => {
                let why = "the header is named twice (in key and in header): keep one";
                return refuse("header", why.into(), h.span());
            }
            (Some(named), None) => Some(named),
            (None, h) => h.map(|h| ("header", h.span(), h.into_inner())),
        };
        let written = self.key.as_ref().map_or("ip", |k| k.get_ref().as_str());
        let kind = written
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let key_span = self
            .key
            .as_ref()
            .map(toml::Spanned::span)
            .unwrap_or_default();
        match (kind.as_str(), header) {
            // The client address, under the usual names; the forwarding headers count only
            // through trusted proxies whichever name is used.
            ("ip" | "peer" | "peer_ip" | "client_ip" | "forwarded" | "x-forwarded-for", None) => {
                s.key = HttpKey::Ip;
            }
            (
                "ip" | "peer" | "peer_ip" | "client_ip" | "forwarded" | "x-forwarded-for",
                Some(h),
            ) => {
                return refuse("header", "is only read with key = \"header\"".into(), h.1);
            }
            ("header", Some((_, _, name))) if http_token(&name) => {
                s.key = HttpKey::Header(name.to_ascii_lowercase());
            }
            ("header", Some((key, span, name))) => {
                return refuse(key, format!("`{name}` is not a header name"), span);
            }
            ("header", None) => {
                let why = "\"header\" needs the header's name: header = \"x-api-key\"";
                return refuse("key", why.into(), key_span);
            }
            _ => {
                let why = format!(
                    "must be \"ip\" (the client address) or \"header\" (with header = \"NAME\", \
                     or \"header:NAME\"), found \"{written}\""
                );
                return refuse("key", why, key_span);
            }
        }
        for proxy in self.trusted_proxies.into_iter().flatten() {
            match proxy.get_ref().parse::<Cidr>() {
                Ok(cidr) => s.trusted_proxies.push(cidr),
                Err(why) => return refuse("trusted_proxies", why, proxy.span()),
            }
        }
        if let Some(prefix) = self.ipv6_prefix {
            if !(1..=128).contains(prefix.get_ref()) {
                return refuse(
                    "ipv6_prefix",
                    format!("must be 1 to 128, found {}", prefix.get_ref()),
                    prefix.span(),
                );
            }
            s.ipv6_prefix = *prefix.get_ref();
        }
        if let Some(wait) = self.max_wait_secs {
            let w = *wait.get_ref();
            if !(0.0..=super::MAX_SECS).contains(&w) {
                return refuse(
                    "max_wait_secs",
                    format!("must be 0 to {} seconds, found {w}", super::MAX_SECS),
                    wait.span(),
                );
            }
            s.max_wait_secs = w;
        }
        if let Some(unknown) = self.unknown {
            s.unknown = *unknown.get_ref();
        }
        Ok(s)
    }
}

/// Whether `name` is a valid header name (RFC 9110 token).
fn http_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn ranges_hold_what_they_say() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.255.1.2".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        let one: Cidr = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(!all.contains("2001:db8::1".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("proxy.local".parse::<Cidr>().is_err());
    }

    #[test]
    fn the_section_is_read_and_checked_with_locations() {
        let c = Config::from_toml_str(
            "[http]\nkey = \"header\"\nheader = \"X-Api-Key\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nipv6_prefix = 56\nmax_wait_secs = 2\nunknown = \"pass\"\n",
        )
        .unwrap();
        assert_eq!(c.http.key, HttpKey::Header("x-api-key".into()));
        assert_eq!(c.http.trusted_proxies.len(), 2);
        assert_eq!((c.http.ipv6_prefix, c.http.max_wait_secs), (56, 2.0));
        assert_eq!(c.http.unknown, UnknownKey::Pass);
        assert_eq!(
            Config::from_toml_str("").unwrap().http,
            HttpSettings::default()
        );
        for (text, key, line) in [
            ("[http]\nkey = \"cookie\"\n", "http.key", 2),
            ("[http]\nkey = \"header\"\n", "http.key", 2),
            ("[http]\nheader = \"x\"\n", "http.header", 2),
            (
                "[http]\nkey = \"header\"\nheader = \"bad header\"\n",
                "http.header",
                3,
            ),
            (
                "[http]\ntrusted_proxies = [\"10.0.0.0/40\"]\n",
                "http.trusted_proxies",
                2,
            ),
            ("[http]\nipv6_prefix = 0\n", "http.ipv6_prefix", 2),
            ("[http]\nmax_wait_secs = -1\n", "http.max_wait_secs", 2),
        ] {
            let e = Config::from_toml_str(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
            assert_eq!(e.line, Some(line), "{text}: {e}");
        }
        for key in ["ip", "peer", "peer_ip", "client_ip", "forwarded", "IP"] {
            let c = Config::from_toml_str(&format!("[http]\nkey = \"{key}\"\n")).unwrap();
            assert_eq!(c.http.key, HttpKey::Ip, "{key}");
        }
        let c = Config::from_toml_str("[http]\nkey = \"header:X-Api-Key\"\n").unwrap();
        assert_eq!(c.http.key, HttpKey::Header("x-api-key".into()));
        let e = Config::from_toml_str("[http]\nunknown = \"drop\"\n").unwrap_err();
        assert!(e.message.contains("unknown variant"), "{e}");
    }
}
