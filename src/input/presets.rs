//! Formats for the logs people guard first, each a [`LineFormat`] (see
//! [`pattern`](super::pattern)), and [`recognize`], which tells them apart from a log's first
//! lines.
//!
//! | preset | reads | actor | action | target |
//! |---|---|---|---|---|
//! | `sshd` | OpenSSH's failures in syslog (`/var/log/auth.log`, `journalctl -u ssh -o short` or `-o short-iso`): failed passwords and keys, invalid users, PAM authentication failures, disconnects before authentication, scanners that never identify | the remote host | `failed-login`, `invalid-user`, `auth-failure`, `preauth-disconnect`, `no-identification`, `negotiation-failed` | the user name tried (`-` when none) |
//! | `nginx-error` | nginx's `error.log` lines that name a client (`..., client: HOST, server: ..., request: "GET /x HTTP/1.1"`) | the client | the level (`error`, `warn`, ...) | the request's path (`-` when none) |
//! | `apache-error` | Apache's `error_log` lines with `[client HOST]` (2.2) or `[client HOST:PORT]` (2.4) | the client | the level (`error`, ...) | the message, without `, referer: ...` |
//!
//! sshd's `message repeated N times: [ Failed password ...]` and `PAM N more authentication
//! failures` count with weight N. Successful logins are not events. Times are read as the log
//! writes them: syslog's without a year (see [`Years`](super::Years)) or RFC 3339 (rsyslog's
//! high-precision format); nginx's and Apache's in the local time zone (`TZ`).
//!
//! `common` and `combined` (access logs) and `jsonl` are read by their own parsers.

use std::sync::LazyLock;

use regex::Regex;

use super::pattern::{LineFormat, Pattern};
use super::time::TimeFormat;

/// The syslog header before sshd's message: the time (traditional or RFC 3339), the host, the
/// program (`sshd`, or `sshd-session` from OpenSSH 9.8 on) and its pid.
const SYSLOG: &str = r"(?-u)(?P<time>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) \S+ sshd(?:-session)?\[\d+\]: (?:error: )?";

/// sshd's patterns: (message after the header, action).
const SSHD: [(&str, &str); 10] = [
    (
        r"(?:message repeated (?P<weight>\d+) times: \[ ?)?Failed (?:password|publickey|keyboard-interactive/pam|none|hostbased) for (?:invalid user )?(?P<target>.*?) from (?P<actor>\S+) port \d+",
        "failed-login",
    ),
    (
        r"Invalid user (?P<target>.*?) from (?P<actor>\S+)(?: port \d+)?\s*$",
        "invalid-user",
    ),
    (
        r"pam_unix\(sshd:auth\): authentication failure;.*? rhost=(?P<actor>\S+)(?:\s+user=(?P<target>\S+))?",
        "auth-failure",
    ),
    (
        r"PAM (?P<weight>\d+) more authentication failures;.*? rhost=(?P<actor>\S+)(?:\s+user=(?P<target>\S+))?",
        "auth-failure",
    ),
    (
        r"(?:Connection closed by|Disconnected from) (?:(?:invalid|authenticating) user (?P<target>\S*) )?(?P<actor>\S+)(?: port \d+)? \[preauth\]",
        "preauth-disconnect",
    ),
    (
        r"Received disconnect from (?P<actor>\S+?)(?: port \d+)?:\s?\d+: .*\[preauth\]",
        "preauth-disconnect",
    ),
    (
        r"Disconnecting (?:(?:invalid|authenticating) user (?P<target>\S*) )?(?P<actor>\S+) port \d+: Too many authentication failures",
        "preauth-disconnect",
    ),
    (
        r"Timeout before authentication for (?:connection from )?(?P<actor>\S+)",
        "preauth-disconnect",
    ),
    (
        r"Did not receive identification string from (?P<actor>\S+)",
        "no-identification",
    ),
    (
        r"Unable to negotiate with (?P<actor>\S+) port \d+",
        "negotiation-failed",
    ),
];

const NGINX_ERROR: &str = r#"^(?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<action>emerg|alert|crit|error|warn|notice|info|debug)\] \d+#\d+: (?:\*\d+ )?.*?, client: (?P<actor>[^,\s]+)(?:, server: [^,]*)?(?:, request: "(?:[A-Z]+ )?(?P<target>[^ "]*))?"#;

/// Apache's error log, two shapes. 2.4 names the module beside the level (`[core:error]`) and
/// always writes the client's port (`[client 2001:db8::5:51234]`), which is dropped; 2.2 writes
/// the level alone and never a port, so its client (`[client 2001:db8::1]`, an IPv6 address
/// whose last group would read as a port) is kept whole, but for an IPv4 address with a port
/// (a 2.4 server whose `ErrorLogFormat` leaves the module out).
const APACHE_ERROR: [(&str, &str); 2] = [
    // 2.4: `[module:level]`, the client up to its port.
    (r"[\w.-]+:", r"[^\]\s]+?"),
    // 2.2: `[level]`, the client whole, or an IPv4 address before a port.
    ("", r"(?:\d{1,3}\.){3}\d{1,3}|[^\]\s]+"),
];

/// One Apache error-log pattern: `module` before the level, `client` the actor's shape (the
/// port after it, if any, is dropped).
fn apache_error((module, client): (&str, &str)) -> String {
    format!(
        r"^\[(?P<time>[A-Z][a-z]{{2}} [A-Z][a-z]{{2}} \d\d \d\d:\d\d:\d\d(?:\.\d+)? \d{{4}})\] \[{module}(?P<action>[a-z]+\d?)\](?: \[pid \d+(?::tid \d+)?\])?(?: [^\[]*)? \[client (?P<actor>{client})(?::\d+)?\] (?P<target>.*?)(?:, referer: .*)?$"
    )
}

/// A preset log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Preset {
    Sshd,
    NginxError,
    ApacheError,
}

impl Preset {
    /// Every preset, in the order [`recognize`] prefers them.
    pub const ALL: [Preset; 3] = [Preset::Sshd, Preset::NginxError, Preset::ApacheError];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Sshd => "sshd",
            Preset::NginxError => "nginx-error",
            Preset::ApacheError => "apache-error",
        }
    }

    /// The preset called `name`.
    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Its format (compiled on each call: keep it).
    ///
    /// # Panics
    ///
    /// Never: the presets' patterns are fixed, and a test compiles each.
    pub fn format(self) -> LineFormat {
        let compile = |re: &str| Pattern::new(re).expect("a preset's pattern compiles");
        let format = match self {
            Preset::Sshd => LineFormat::new(
                SSHD.iter()
                    .map(|(re, action)| compile(&format!("(?-u)^{re}")).with_action(action))
                    .collect(),
            )
            .and_then(|f| f.with_prefix(SYSLOG)),
            Preset::NginxError => LineFormat::new(vec![compile(NGINX_ERROR)]).map(|f| {
                f.with_time_format(TimeFormat::strftime("%Y/%m/%d %H:%M:%S").expect("valid"))
            }),
            Preset::ApacheError => {
                LineFormat::new(APACHE_ERROR.map(|p| compile(&apache_error(p))).to_vec()).map(|f| {
                    f.with_time_format(
                        TimeFormat::strftime("%a %b %d %H:%M:%S%.f %Y").expect("valid"),
                    )
                })
            }
        };
        format.expect("a preset has patterns")
    }
}

/// What a log's first lines look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recognized {
    /// One JSON object per line.
    Jsonl,
    /// An access log (combined or common).
    Combined,
    /// A preset's log.
    Preset(Preset),
}

static SHAPES: LazyLock<[(Recognized, Regex); 4]> = LazyLock::new(|| {
    let re = |s: &str| Regex::new(s).expect("a shape compiles");
    [
        (
            Recognized::Combined,
            re(r#"^\S+ \S+ .*\[\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] ""#),
        ),
        // Any syslog line: sshd's log is mostly other programs' lines and sshd's non-events.
        (
            Recognized::Preset(Preset::Sshd),
            re(
                r"^(?:[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*) \S+ [^\s\[:]+(?:\[\d+\])?: ",
            ),
        ),
        (
            Recognized::Preset(Preset::NginxError),
            re(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[[a-z]+\] \d+#\d+: "),
        ),
        (
            Recognized::Preset(Preset::ApacheError),
            re(r"^\[[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4}\] \["),
        ),
    ]
});

/// The format of a log from its first lines (up to 20 non-blank ones are looked at): JSON Lines
/// if the first starts with `{`, else the shape most of them have. `None` when none fits.
pub fn recognize(head: &[u8]) -> Option<Recognized> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .peekable();
    if lines.peek()?.trim_start().starts_with('{') {
        return Some(Recognized::Jsonl);
    }
    let mut counts = [0usize; 4];
    for line in lines {
        for (i, (_, shape)) in SHAPES.iter().enumerate() {
            if shape.is_match(line) {
                counts[i] += 1;
                break;
            }
        }
    }
    let (best, &n) = counts
        .iter()
        .enumerate()
        .max_by_key(|&(i, n)| (*n, usize::MAX - i))?;
    (n > 0).then(|| SHAPES[best].0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Years;
    use jiff::tz::TimeZone;

    /// Nanoseconds of a local civil time (what logs without an offset write).
    fn local(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> u64 {
        let dt = jiff::civil::datetime(y, mo, d, h, mi, s, 0);
        TimeZone::system().to_timestamp(dt).unwrap().as_nanosecond() as u64
    }

    /// actor, action, target, weight.
    type Fields<'a> = (&'a str, &'a str, &'a str, f64);

    /// Each line with what it must give: None for a line that is not an event.
    fn check(preset: Preset, year: i16, cases: &[(&str, Option<Fields<'_>>)]) {
        let format = preset.format();
        for (line, want) in cases {
            let mut years = Years::given(year);
            let got = format
                .parse(line, &mut years)
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            let got = got.map(|e| {
                let fields = (
                    e.actor.to_string(),
                    e.action.to_string(),
                    e.target.to_string(),
                    e.weight,
                );
                (fields, e.ts)
            });
            let want = want.map(|(a, b, c, w)| (a.to_string(), b.to_string(), c.to_string(), w));
            assert_eq!(got.as_ref().map(|g| &g.0), want.as_ref(), "{line}");
        }
    }

    /// Real lines: OpenSSH on a public server (the loghub corpus, host `LabSZ`), a Debian 12 journal
    /// (`journalctl -o short-iso`), and OpenSSH 9.8+ (`sshd-session`).
    #[test]
    fn sshd_reads_failures_and_nothing_else() {
        check(Preset::Sshd, 2016, &[
            ("Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!", None),
            ("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186", Some(("173.234.31.186", "invalid-user", "webmaster", 1.0))),
            ("Dec 10 06:55:46 LabSZ sshd[24200]: input_userauth_request: invalid user webmaster [preauth]", None),
            ("Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): check pass; user unknown", None),
            ("Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186 ", Some(("173.234.31.186", "auth-failure", "-", 1.0))),
            ("Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2", Some(("173.234.31.186", "failed-login", "webmaster", 1.0))),
            ("Dec 10 06:55:48 LabSZ sshd[24200]: Connection closed by 173.234.31.186 [preauth]", Some(("173.234.31.186", "preauth-disconnect", "-", 1.0))),
            ("Dec 10 07:07:38 LabSZ sshd[24206]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=ec2-52-80-34-196.cn-north-1.compute.amazonaws.com.cn ", Some(("ec2-52-80-34-196.cn-north-1.compute.amazonaws.com.cn", "auth-failure", "-", 1.0))),
            ("Dec 10 07:07:45 LabSZ sshd[24206]: Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]", Some(("52.80.34.196", "preauth-disconnect", "-", 1.0))),
            ("Dec 10 07:13:31 LabSZ sshd[24227]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76.dynamic-dsl-ip.omantel.net.om  user=root", Some(("5.36.59.76.dynamic-dsl-ip.omantel.net.om", "auth-failure", "root", 1.0))),
            ("Dec 10 07:13:43 LabSZ sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2", Some(("5.36.59.76", "failed-login", "root", 1.0))),
            ("Dec 10 07:13:56 LabSZ sshd[24227]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]", Some(("5.36.59.76", "failed-login", "root", 5.0))),
            ("Dec 10 07:13:56 LabSZ sshd[24227]: Disconnecting: Too many authentication failures for root [preauth]", None),
            ("Dec 10 07:13:56 LabSZ sshd[24227]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76.dynamic-dsl-ip.omantel.net.om  user=root", Some(("5.36.59.76.dynamic-dsl-ip.omantel.net.om", "auth-failure", "root", 5.0))),
            ("Dec 10 07:13:56 LabSZ sshd[24227]: PAM service(sshd) ignoring max retries; 6 > 3", None),
            ("Dec 10 07:34:33 LabSZ sshd[24301]: Did not receive identification string from 123.235.32.19", Some(("123.235.32.19", "no-identification", "-", 1.0))),
            ("Dec 10 09:32:20 LabSZ sshd[24680]: Accepted password for fztu from 119.137.62.142 port 49116 ssh2", None),
            ("Dec 10 09:32:20 LabSZ sshd[24680]: pam_unix(sshd:session): session opened for user fztu by (uid=0)", None),
            ("Dec 10 11:03:44 LabSZ sshd[25455]: error: Received disconnect from 103.99.0.122: 14: No more user authentication methods available. [preauth]", Some(("103.99.0.122", "preauth-disconnect", "-", 1.0))),
            ("Dec 10 10:00:00 LabSZ CRON[1234]: pam_unix(cron:session): session opened for user root by (uid=0)", None),
            // OpenSSH 8.x and 9.x wording (Debian 11-13, Ubuntu 22.04-24.04).
            ("2026-11-24T10:00:00.123456+00:00 web1 sshd[811]: Invalid user admin from 198.51.100.23 port 50022", Some(("198.51.100.23", "invalid-user", "admin", 1.0))),
            ("2026-11-24T10:00:01+0000 web1 sshd[811]: Failed password for invalid user admin from 198.51.100.23 port 50022 ssh2", Some(("198.51.100.23", "failed-login", "admin", 1.0))),
            ("Nov 24 10:00:02 web1 sshd-session[812]: Connection closed by invalid user admin 198.51.100.23 port 50022 [preauth]", Some(("198.51.100.23", "preauth-disconnect", "admin", 1.0))),
            ("Nov 24 10:00:03 web1 sshd[813]: Disconnected from authenticating user root 2001:db8::7 port 40000 [preauth]", Some(("2001:db8::7", "preauth-disconnect", "root", 1.0))),
            ("Nov 24 10:00:04 web1 sshd[814]: Received disconnect from 203.0.113.5 port 52000:11: Bye Bye [preauth]", Some(("203.0.113.5", "preauth-disconnect", "-", 1.0))),
            ("Nov 24 10:00:05 web1 sshd[815]: Failed publickey for git from 203.0.113.6 port 52001 ssh2: RSA SHA256:abc", Some(("203.0.113.6", "failed-login", "git", 1.0))),
            ("Nov 24 10:00:06 web1 sshd[816]: Unable to negotiate with 203.0.113.7 port 52002: no matching key exchange method found.", Some(("203.0.113.7", "negotiation-failed", "-", 1.0))),
            ("Nov 24 10:00:07 web1 sshd[817]: Disconnecting invalid user oracle 203.0.113.8 port 52003: Too many authentication failures [preauth]", Some(("203.0.113.8", "preauth-disconnect", "oracle", 1.0))),
            ("Nov 24 10:00:08 web1 sshd[818]: Timeout before authentication for 203.0.113.9 port 52004", Some(("203.0.113.9", "preauth-disconnect", "-", 1.0))),
            ("Nov 24 10:00:09 web1 sshd[819]: Server listening on 0.0.0.0 port 22.", None),
        ]);
        let format = Preset::Sshd.format();
        let e = format
            .parse("Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for root from 1.2.3.4 port 1 ssh2", &mut Years::given(2016))
            .unwrap()
            .unwrap();
        assert_eq!(e.ts, local(2016, 12, 10, 6, 55, 48));
        let e = format
            .parse(
                "2026-11-24T10:00:00.250+01:00 h sshd[1]: Invalid user x from 1.2.3.4",
                &mut Years::given(2016),
            )
            .unwrap()
            .unwrap();
        assert_eq!(e.ts, 1_795_510_800_250_000_000);
    }

    /// nginx's own wording (its documentation and fail2ban's test logs).
    #[test]
    fn nginx_error_reads_lines_that_name_a_client() {
        check(
            Preset::NginxError,
            2000,
            &[
                (
                    r#"2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found in "/var/www/.htpasswd", client: 192.0.43.10, server: www.myhost.com, request: "GET / HTTP/1.1", host: "www.myhost.com""#,
                    Some(("192.0.43.10", "error", "/", 1.0)),
                ),
                (
                    r#"2012/04/09 11:53:36 [error] 2865#0: *66647 user "xyz": password mismatch, client: 192.0.43.10, server: www.myhost.com, request: "GET /private/ HTTP/1.1", host: "www.myhost.com""#,
                    Some(("192.0.43.10", "error", "/private/", 1.0)),
                ),
                (
                    r#"2026/11/24 10:00:00 [error] 812#812: *43 limiting requests, excess: 20.850 by zone "one", client: 2001:db8::1, server: example.com, request: "POST /login?next=/ HTTP/2.0", host: "example.com""#,
                    Some(("2001:db8::1", "error", "/login?next=/", 1.0)),
                ),
                (
                    r#"2026/11/24 10:00:01 [warn] 812#812: *44 an upstream response is buffered to a temporary file /var/cache/nginx/1/00/0000000001 while reading upstream, client: 203.0.113.4, server: example.com, request: "GET /big HTTP/1.1", upstream: "http://127.0.0.1:8080/big", host: "example.com""#,
                    Some(("203.0.113.4", "warn", "/big", 1.0)),
                ),
                (
                    "2026/11/24 10:00:02 [info] 812#812: *45 client 203.0.113.5 closed keepalive connection",
                    None,
                ),
                (
                    "2026/11/24 10:00:03 [error] 812#812: *46 SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: 203.0.113.6, server: 0.0.0.0:443",
                    Some(("203.0.113.6", "error", "-", 1.0)),
                ),
                (
                    "2026/11/24 10:00:04 [notice] 1#1: signal process started",
                    None,
                ),
            ],
        );
        let format = Preset::NginxError.format();
        let e = format
            .parse(
                "2012/04/09 11:53:29 [error] 1#0: *1 x, client: 1.2.3.4",
                &mut Years::now(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(e.ts, local(2012, 4, 9, 11, 53, 29));
    }

    /// Apache 2.2 (the loghub corpus; IPv6 and host-name clients, which 2.2 writes without a
    /// port) and 2.4 (with module, pid, tid, client port and `referer`), as real servers wrote
    /// them.
    #[test]
    fn apache_error_reads_both_client_shapes() {
        check(Preset::ApacheError, 2000, &[
            ("[Sun Dec 04 05:15:09 2005] [error] [client 222.166.160.184] Directory index forbidden by rule: /var/www/html/", Some(("222.166.160.184", "error", "Directory index forbidden by rule: /var/www/html/", 1.0))),
            ("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties", None),
            ("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6", None),
            ("[Fri Sep 30 13:26:51.015401 2022] [proxy_fcgi:error] [pid 2629300] [client 192.168.1.110:41546] AH01071: Got error 'PHP message: PHP Fatal error:  __autoload() is no longer supported'", Some(("192.168.1.110", "error", "AH01071: Got error 'PHP message: PHP Fatal error:  __autoload() is no longer supported'", 1.0))),
            ("[Wed May 09 07:29:22.641744 2018] [proxy_fcgi:error] [pid 155:tid 140240559003392] [client 172.18.0.1:60048] AH01067: Failed to read FastCGI header", Some(("172.18.0.1", "error", "AH01067: Failed to read FastCGI header", 1.0))),
            ("[Wed May 09 07:29:22.641776 2018] [proxy_fcgi:error] [pid 155:tid 140240559003392] (104)Connection reset by peer: [client 172.18.0.1:60048] AH01075: Error dispatching request to :81:", Some(("172.18.0.1", "error", "AH01075: Error dispatching request to :81:", 1.0))),
            ("[Sat May 03 09:24:30.034338 2025] [proxy_fcgi:error] [pid 613811] [client 127.0.0.1:58558] AH01071: Got error 'x', referer: https://the-scent.com/index.php?page=login", Some(("127.0.0.1", "error", "AH01071: Got error 'x'", 1.0))),
            ("[Tue Nov 24 10:00:00.000001 2026] [auth_basic:error] [pid 10:tid 11] [client 2001:db8::5:51234] AH01618: user bob not found: /admin", Some(("2001:db8::5", "error", "AH01618: user bob not found: /admin", 1.0))),
            ("[Sun Dec 04 05:15:09 2005] [error] [client 2001:db8::1] File does not exist: /var/www/html/x", Some(("2001:db8::1", "error", "File does not exist: /var/www/html/x", 1.0))),
            ("[Sun Dec 04 05:15:09 2005] [error] [client ::1] File does not exist: /var/www/html/x", Some(("::1", "error", "File does not exist: /var/www/html/x", 1.0))),
            ("[Sun Dec 04 05:15:09 2005] [error] [client host-7.example.net] client denied by server configuration: /srv", Some(("host-7.example.net", "error", "client denied by server configuration: /srv", 1.0))),
            ("[Fri Sep 30 13:26:51.015401 2022] [error] [pid 7] [client 10.1.2.3:40000] AH00128: File does not exist: /x", Some(("10.1.2.3", "error", "AH00128: File does not exist: /x", 1.0))),
            ("[Sat May 03 09:20:10.664596 2025] [ssl:warn] [pid 613809] AH01906: the-scent.com:443:0 server certificate is a CA certificate", None),
        ]);
        let format = Preset::ApacheError.format();
        let e = format
            .parse(
                "[Fri Sep 30 13:26:51.015401 2022] [core:error] [pid 1] [client 1.2.3.4:5] x",
                &mut Years::now(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(e.ts, local(2022, 9, 30, 13, 26, 51) + 15_401_000);
    }

    #[test]
    fn the_first_lines_tell_the_format() {
        let r = |text: &str| recognize(text.as_bytes());
        assert_eq!(r("\n{\"actor\": \"a\"}\n"), Some(Recognized::Jsonl));
        assert_eq!(
            r("203.0.113.9 - - [24/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5\n"),
            Some(Recognized::Combined)
        );
        let auth = "Nov 24 10:00:00 h CRON[1]: pam_unix(cron:session): session opened\n\
                    Nov 24 10:00:01 h sshd[2]: Invalid user a from 1.2.3.4\n";
        assert_eq!(r(auth), Some(Recognized::Preset(Preset::Sshd)));
        assert_eq!(
            r("2012/04/09 11:53:29 [error] 2865#0: *1 x, client: 1.2.3.4\n"),
            Some(Recognized::Preset(Preset::NginxError))
        );
        assert_eq!(
            r("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok\n"),
            Some(Recognized::Preset(Preset::ApacheError))
        );
        assert_eq!(r("hello\nworld\n"), None);
        assert_eq!(r(""), None);
    }
}
