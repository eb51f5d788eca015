//! Which proxy reaches dbd_server, the way curl chooses: `--source-proxy`,
//! else `https_proxy`/`http_proxy` from the environment unless `no_proxy`
//! names the server (curl's rules for names, addresses and CIDR blocks).

use std::net::IpAddr;

use crate::source::proxy::{split_host_port, Proxy};

/// The `--source-proxy` values that mean "no proxy, whatever the
/// environment says" (an empty value means the flag is not set).
const DIRECT: &[&str] = &["direct", "none"];

/// Whether `no_proxy` (curl's rules) says to reach `host:port` directly:
/// entries separated by commas or spaces; `*` for every host; a name
/// matches itself and its subdomains (a leading `.` or `*.` changes
/// nothing); an IP address or CIDR block matches an address given as
/// such (no DNS lookups); `entry:port` only that port.
pub fn bypass(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip: Option<IpAddr> = host.parse().ok();
    no_proxy
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let Some((pattern, entry_port)) = split_host_port(entry) else {
                return false;
            };
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            match host_ip {
                Some(ip) => ip_matches(pattern, ip),
                None => {
                    let pattern = pattern.trim_start_matches("*.").trim_start_matches('.');
                    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
                    !pattern.is_empty()
                        && (host == pattern
                            || host
                                .strip_suffix(&pattern)
                                .is_some_and(|rest| rest.ends_with('.')))
                }
            }
        })
}

/// `pattern` is `ip` or `ip/bits` covering `ip`.
fn ip_matches(pattern: &str, ip: IpAddr) -> bool {
    let (net, bits) = match pattern.split_once('/') {
        Some((net, bits)) => (net, bits.parse::<u32>().ok()),
        None => (pattern, None),
    };
    match (net.parse::<IpAddr>(), ip) {
        (Ok(IpAddr::V4(net)), IpAddr::V4(ip)) => {
            prefix_eq(u32::from(net).into(), u32::from(ip).into(), 32, bits)
        }
        (Ok(IpAddr::V6(net)), IpAddr::V6(ip)) => {
            prefix_eq(u128::from(net), u128::from(ip), 128, bits)
        }
        _ => false,
    }
}

/// The first `bits` (all `width` if none) of two addresses are equal.
fn prefix_eq(a: u128, b: u128, width: u32, bits: Option<u32>) -> bool {
    let bits = bits.unwrap_or(width).min(width);
    let shift = width - bits;
    shift >= width || (a >> shift) == (b >> shift)
}

/// The proxy to use for `host:port`, and where that choice came from (for
/// the debug log): `--source-proxy` wins over the environment (and over
/// `no_proxy`: it is this puller's own setting); `direct` or `none` there
/// means no proxy. From the environment, as curl reads
/// it: `https_proxy` or `HTTPS_PROXY` for HTTPS, `http_proxy` for HTTP
/// (only lower case: CGI servers set `HTTP_PROXY` from a request header),
/// lower case first, empty means unset; `no_proxy` or `NO_PROXY` exempts
/// hosts.
pub fn choose(
    flag: Option<&str>,
    tls: bool,
    host: &str,
    port: u16,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(Proxy, String)>, String> {
    if let Some(url) = flag.filter(|u| !u.trim().is_empty()) {
        if DIRECT.contains(&url.trim().to_ascii_lowercase().as_str()) {
            return Ok(None);
        }
        return Ok(Some((
            Proxy::parse(url, "--source-proxy")?,
            "--source-proxy".into(),
        )));
    }
    let first_set = |names: &[&'static str]| {
        names
            .iter()
            .find_map(|&n| env(n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)))
    };
    let names: &[&str] = if tls {
        &["https_proxy", "HTTPS_PROXY"]
    } else {
        &["http_proxy"]
    };
    let Some((name, url)) = first_set(names) else {
        return Ok(None);
    };
    if let Some((no_name, list)) = first_set(&["no_proxy", "NO_PROXY"]) {
        if bypass(&list, host, port) {
            dbdump_shared::debug!("{no_name} names {host}: not using the proxy of {name}");
            return Ok(None);
        }
    }
    Ok(Some((Proxy::parse(&url, name)?, name.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn no_proxy_rules() {
        let list = "localhost, .corp.example,*.lab.example ,10.0.0.0/8,192.168.1.7,::1,[fd00::]:8888,db.example:8443";
        for (host, port, expect) in [
            ("localhost", 8888, true),
            ("LOCALHOST.", 8888, true),
            ("corp.example", 8888, true),
            ("sync.corp.example", 8888, true),
            ("notcorp.example", 8888, false),
            ("a.lab.example", 1, true),
            ("lab.example", 1, true),
            ("10.200.3.4", 8888, true),
            ("11.0.0.1", 8888, false),
            ("192.168.1.7", 8888, true),
            ("192.168.1.8", 8888, false),
            ("::1", 8888, true),
            ("[::1]", 8888, true),
            ("fd00::", 8888, true),
            ("fd00::", 8889, false),
            ("db.example", 8443, true),
            ("db.example", 8888, false),
            ("example", 8888, false),
        ] {
            assert_eq!(bypass(list, host, port), expect, "{host}:{port}");
        }
        assert!(bypass("*", "anything.example", 1));
        assert!(bypass("a.example, *", "anything.example", 1));
        assert!(!bypass("", "a.example", 1));
        assert!(!bypass(",, ,", "a.example", 1));
        assert!(!bypass("10.0.0.1", "host10.0.0.1", 1), "names are not IPs");
    }

    fn env_of(vars: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        move |name| map.get(name).map(|v| v.to_string())
    }

    fn chosen(
        flag: Option<&str>,
        tls: bool,
        vars: &[(&'static str, &'static str)],
    ) -> Option<String> {
        let (proxy, from) = choose(flag, tls, "db.example", 8888, &env_of(vars)).unwrap()?;
        Some(format!("{} from {from}", proxy.label()))
    }

    #[test]
    fn which_proxy_is_used() {
        let all = [
            ("https_proxy", "http://lower-s:1"),
            ("HTTPS_PROXY", "http://upper-s:1"),
            ("http_proxy", "http://lower:1"),
            ("HTTP_PROXY", "http://upper:1"),
        ];
        assert_eq!(
            chosen(None, true, &all).unwrap(),
            "http://lower-s:1 from https_proxy"
        );
        assert_eq!(
            chosen(None, false, &all).unwrap(),
            "http://lower:1 from http_proxy"
        );
        assert_eq!(
            chosen(None, true, &[("HTTPS_PROXY", "http://upper-s:1")]).unwrap(),
            "http://upper-s:1 from HTTPS_PROXY"
        );
        assert_eq!(
            chosen(None, false, &[("HTTP_PROXY", "http://upper:1")]),
            None,
            "httpoxy"
        );
        assert_eq!(
            chosen(None, true, &[("http_proxy", "http://lower:1")]),
            None
        );
        assert_eq!(
            chosen(
                None,
                true,
                &[("https_proxy", ""), ("HTTPS_PROXY", "http://u:1")]
            )
            .unwrap(),
            "http://u:1 from HTTPS_PROXY"
        );
        // no_proxy, either case, lower first.
        assert_eq!(chosen(None, true, &[all[0], ("NO_PROXY", "example")]), None);
        assert!(chosen(
            None,
            true,
            &[all[0], ("no_proxy", "other"), ("NO_PROXY", "example")]
        )
        .is_some());
        // The flag wins over all of them, no_proxy included.
        let flag = Some("http://flag:2");
        let with_no_proxy = [all[0], ("no_proxy", "*")];
        assert_eq!(
            chosen(flag, true, &with_no_proxy).unwrap(),
            "http://flag:2 from --source-proxy"
        );
        for off in ["direct", "none", " DIRECT "] {
            assert_eq!(chosen(Some(off), true, &all), None, "{off:?}");
        }
        assert_eq!(
            chosen(Some(""), true, &all).unwrap(),
            "http://lower-s:1 from https_proxy",
            "empty is unset"
        );
    }
}
