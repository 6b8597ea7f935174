//! Where webhooks may go. A merchant's URL must not turn toko into a proxy into its own
//! network: loopback, private, link-local (cloud metadata at 169.254.169.254), shared,
//! multicast and unspecified addresses are refused unless a configured network allows them.
//! The check runs at delivery time on the addresses DNS returns, and the request then goes to
//! the address checked (no second lookup a rebinding DNS server could answer differently).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use url::Url;

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{host} does not resolve")]
    Unresolved { host: String },
    #[error("{host} resolves to {address}, a non-public address")]
    NonPublic { host: String, address: IpAddr },
}

/// Whether `ip` is reachable on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT (shared address space)
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24, IETF protocol assignments
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        // 198.18.0.0/15, benchmarking
        || (a == 198 && (18..20).contains(&b))
        // 240.0.0.0/4, reserved
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 unique local, fe80::/10 link-local, 2001:db8::/32 documentation
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// The address to send to: the first DNS answer for the URL's host, when every answer is
/// public or inside `allowed`.
pub async fn resolve(url: &Url, allowed: &[IpNet]) -> Result<SocketAddr, Refusal> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((lookup_host.as_str(), port))
        .await
        .map(Iterator::collect)
        .unwrap_or_default();
    let first = *addresses
        .first()
        .ok_or_else(|| Refusal::Unresolved { host: host.clone() })?;
    // Every answer, not only the first: a client library might pick any of them.
    for address in &addresses {
        let ip = address.ip();
        if !is_public(ip) && !allowed.iter().any(|net| net.contains(&ip)) {
            return Err(Refusal::NonPublic { host, address: ip });
        }
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_shown_without_query_or_credentials() {
        assert_eq!(
            super::super::shown_url("https://u:p@erp.example.com/hooks/toko?token=s3cret#x"),
            "https://erp.example.com/hooks/toko"
        );
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_its_network_is_allowed() {
        let url = Url::parse("http://127.0.0.1:9/hook").unwrap();
        assert!(matches!(
            resolve(&url, &[]).await,
            Err(Refusal::NonPublic { .. })
        ));
        let allowed: IpNet = "127.0.0.0/8".parse().unwrap();
        assert_eq!(
            resolve(&url, &[allowed]).await.unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        let localhost = Url::parse("http://localhost:9/hook").unwrap();
        assert!(
            resolve(&localhost, &[]).await.is_err(),
            "names are resolved"
        );
    }
}
