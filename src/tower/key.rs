//! Who sent a request: the actor id the layer checks it under.
//!
//! - `ip:ADDR` for an IPv4 client, `ip:NET/LEN` for an IPv6 client, grouped by
//!   [`HttpSettings::ipv6_prefix`] (one host holds a whole /64 and could rotate through it).
//! - The client is the connection's peer, unless the peer is a trusted proxy: then the
//!   `Forwarded` (RFC 7239) or, when there is none, `X-Forwarded-For` addresses are read **from
//!   the right**, skipping the trusted ones; the first untrusted address is the client. The
//!   leftmost entries are whatever the client wrote, so they are never believed unless every hop
//!   after them is trusted. Without trusted proxies the headers are ignored.
//! - `key:VALUE` for a header key.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use http::HeaderMap;

use crate::config::{canonical, HttpSettings};

/// The client address of a request whose connection comes from `peer`: `None` when the
/// forwarding headers cannot be read where they matter (an entry that is not an address, such as
/// `unknown` or an obfuscated `_hidden`).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, s: &HttpSettings) -> Option<IpAddr> {
    let trusted = |ip: IpAddr| s.trusted_proxies.iter().any(|net| net.contains(ip));
    let peer = canonical(peer);
    if !trusted(peer) {
        return Some(peer);
    }
    let chain = forwarded_for(headers);
    let mut client = peer;
    for entry in chain.iter().rev() {
        let ip = canonical((*entry)?);
        client = ip;
        if !trusted(ip) {
            return Some(ip);
        }
    }
    // Every hop is trusted: the leftmost address is the client.
    Some(client)
}

/// The addresses a request was forwarded for, left to right: from `Forwarded` when present,
/// else `X-Forwarded-For`. `None` for an entry that is not an address.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all(http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(value.trim().trim_matches('"')))
                })
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|entry| parse_node(entry.trim()))
        .collect()
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = node.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

/// The actor id of a client address.
pub fn ip_actor(ip: IpAddr, ipv6_prefix: u8) -> String {
    let mut id = String::new();
    write_ip_actor(&mut id, ip, ipv6_prefix);
    id
}

/// [`ip_actor`], written into `out`.
fn write_ip_actor(out: &mut impl fmt::Write, ip: IpAddr, ipv6_prefix: u8) {
    // Writing to a `ClientKey` or a `String` cannot fail.
    let _ = match canonical(ip) {
        IpAddr::V4(v4) => out.write_str(dotted(v4, &mut [0; 18])),
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(ipv6_prefix))
                .unwrap_or(0);
            let net = Ipv6Addr::from(u128::from(v6) & mask);
            write!(out, "ip:{net}/{ipv6_prefix}")
        }
    };
}

/// `ip:` and the address in dotted decimal, written into `buf`: what `Ipv4Addr`'s `Display`
/// writes, without the formatting machinery (about a sixth of what the layer spent judging a
/// refused request in a flood).
fn dotted(ip: Ipv4Addr, buf: &mut [u8; 18]) -> &str {
    buf[..3].copy_from_slice(b"ip:");
    let mut at = 3;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            buf[at] = b'.';
            at += 1;
        }
        if octet >= 100 {
            buf[at] = b'0' + octet / 100;
            at += 1;
        }
        if octet >= 10 {
            buf[at] = b'0' + octet / 10 % 10;
            at += 1;
        }
        buf[at] = b'0' + octet % 10;
        at += 1;
    }
    // ASCII digits and dots only.
    std::str::from_utf8(&buf[..at]).unwrap_or_default()
}

/// A request's actor id, made for one check: in place while it fits in [`ClientKey::INLINE`]
/// bytes (every IPv4 and IPv6 key, most header keys), so a request's key costs no allocation
/// (two per request with a `String`, in a server that answers in microseconds).
pub(crate) enum ClientKey {
    Inline {
        len: u8,
        bytes: [u8; ClientKey::INLINE],
    },
    Heap(String),
}

impl ClientKey {
    /// Bytes kept in place: the longest IPv6 key (`ip:` + 39 + `/128`) and then some.
    pub const INLINE: usize = 62;

    pub fn new() -> ClientKey {
        ClientKey::Inline {
            len: 0,
            bytes: [0; ClientKey::INLINE],
        }
    }

    /// The client address's key ([`ip_actor`]).
    pub fn ip(ip: IpAddr, ipv6_prefix: u8) -> ClientKey {
        let mut key = ClientKey::new();
        write_ip_actor(&mut key, ip, ipv6_prefix);
        key
    }

    /// An id written as it stands (the shared actor of requests without a key).
    pub fn literal(id: &str) -> ClientKey {
        let mut key = ClientKey::new();
        key.push_str(id);
        key
    }

    /// A header key: `key:` and the header's value (invalid UTF-8 replaced).
    pub fn header(value: &[u8]) -> ClientKey {
        let mut key = ClientKey::new();
        key.push_str("key:");
        key.push_str(&String::from_utf8_lossy(value));
        key
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Only whole `&str`s are ever copied in, so the bytes are UTF-8.
            ClientKey::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            ClientKey::Heap(s) => s,
        }
    }

    /// The id as a `String` (a check through the shared store outlives the request).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub fn into_string(self) -> String {
        match self {
            ClientKey::Inline { .. } => self.as_str().to_owned(),
            ClientKey::Heap(s) => s,
        }
    }

    fn push_str(&mut self, s: &str) {
        match self {
            ClientKey::Inline { len, bytes } => {
                let at = usize::from(*len);
                if let Some(room) = bytes.get_mut(at..at + s.len()) {
                    room.copy_from_slice(s.as_bytes());
                    // At most INLINE (62): fits a u8.
                    *len = (at + s.len()) as u8;
                } else {
                    let mut heap = String::with_capacity(at + s.len());
                    heap.push_str(self.as_str());
                    heap.push_str(s);
                    *self = ClientKey::Heap(heap);
                }
            }
            ClientKey::Heap(heap) => heap.push_str(s),
        }
    }
}

impl From<String> for ClientKey {
    fn from(s: String) -> ClientKey {
        ClientKey::Heap(s)
    }
}

impl fmt::Write for ClientKey {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn settings(proxies: &[&str]) -> HttpSettings {
        let list: Vec<String> = proxies.iter().map(|p| format!("\"{p}\"")).collect();
        Config::from_toml_str(&format!("[http]\ntrusted_proxies = [{}]\n", list.join(",")))
            .unwrap()
            .http
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("forwarded", "for=2.2.2.2")]);
        assert_eq!(
            client_ip(ip("203.0.113.7"), &h, &settings(&[])),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_address_is_the_client() {
        let s = settings(&["10.0.0.0/8"]);
        // The client wrote 6.6.6.6 itself; the proxy appended the address it saw.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &s), Some(ip("198.51.100.9")));
        // Two proxies of ours in a row.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.9, 10.1.1.1")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &s), Some(ip("198.51.100.9")));
        // Several headers are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.9"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &s), Some(ip("198.51.100.9")));
        // A peer that is not trusted is the client, whatever it says.
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &s),
            Some(ip("198.51.100.1"))
        );
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &s),
            Some(ip("10.0.0.2"))
        );
        // Every hop trusted: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &s), Some(ip("10.9.9.9")));
        // An entry that is not an address, where it matters: no key.
        let h = headers(&[("x-forwarded-for", "unknown")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &s), None);
        // ...but not where it does not (left of the client).
        let h = headers(&[("x-forwarded-for", "garbage, 198.51.100.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &s), Some(ip("198.51.100.9")));
    }

    #[test]
    fn forwarded_is_read_before_x_forwarded_for_in_all_its_forms() {
        let s = settings(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let h = headers(&[
            ("x-forwarded-for", "7.7.7.7"),
            (
                "forwarded",
                "for=6.6.6.6;proto=https, For=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1",
            ),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &s),
            Some(ip("2001:db8:cafe::17"))
        );
        let h = headers(&[("forwarded", "for=198.51.100.9:5555")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &s), Some(ip("198.51.100.9")));
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &s), None);
        // IPv4-mapped peers count as IPv4.
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.2"), &h, &s),
            None,
            "a mapped trusted peer is trusted"
        );
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_prefix() {
        assert_eq!(ip_actor(ip("203.0.113.7"), 64), "ip:203.0.113.7");
        assert_eq!(ip_actor(ip("::ffff:203.0.113.7"), 64), "ip:203.0.113.7");
        assert_eq!(
            ip_actor(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 64),
            "ip:2001:db8:1:2::/64"
        );
        assert_eq!(
            ip_actor(ip("2001:db8:1:2::1"), 64),
            ip_actor(ip("2001:db8:1:2:ffff::9"), 64)
        );
        assert_ne!(
            ip_actor(ip("2001:db8:1:2::1"), 64),
            ip_actor(ip("2001:db8:1:3::1"), 64)
        );
        assert_eq!(ip_actor(ip("2001:db8:1:2::1"), 48), "ip:2001:db8:1::/48");
        assert_eq!(ip_actor(ip("2001:db8::1"), 128), "ip:2001:db8::1/128");
    }

    #[test]
    fn an_ipv4_key_is_written_as_display_writes_the_address() {
        // Every octet value in the first and third places, edge values in the second.
        for a in 0..=255u8 {
            for &b in &[0u8, 7, 10, 100, 255] {
                let v4 = Ipv4Addr::new(a, b, 255 - a, a / 3);
                assert_eq!(dotted(v4, &mut [0; 18]), format!("ip:{v4}"));
            }
        }
        assert_eq!(
            dotted(Ipv4Addr::BROADCAST, &mut [0; 18]),
            "ip:255.255.255.255"
        );
    }

    #[test]
    fn a_client_key_is_the_same_id_in_place_or_on_the_heap() {
        // The longest IPv6 key fits in place, and reads as ip_actor's.
        let longest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let key = ClientKey::ip(ip(longest), 128);
        assert!(matches!(key, ClientKey::Inline { .. }));
        assert_eq!(key.as_str(), ip_actor(ip(longest), 128));
        assert_eq!(key.as_str(), format!("ip:{longest}/128"));
        assert_eq!(
            ClientKey::ip(ip("203.0.113.7"), 64).as_str(),
            "ip:203.0.113.7"
        );

        // A header key up to the room left after `key:` stays in place; one byte more moves
        // the whole id to the heap, unchanged.
        for len in [0, 1, ClientKey::INLINE - 4, ClientKey::INLINE - 3, 500] {
            let value = "v".repeat(len);
            let key = ClientKey::header(value.as_bytes());
            assert_eq!(
                matches!(key, ClientKey::Inline { .. }),
                len <= ClientKey::INLINE - 4,
                "{len} bytes"
            );
            assert_eq!(key.as_str(), format!("key:{value}"));
            assert_eq!(key.into_string(), format!("key:{value}"));
        }

        // Invalid UTF-8 is replaced, as in a String built from the value; a multi-byte
        // character that would straddle the in-place room is never split.
        let key = ClientKey::header(b"abc\xffdef");
        assert_eq!(key.as_str(), "key:abc\u{fffd}def");
        let straddling = format!("{}é", "v".repeat(ClientKey::INLINE - 5));
        let key = ClientKey::header(straddling.as_bytes());
        assert_eq!(key.as_str(), format!("key:{straddling}"));
    }
}
