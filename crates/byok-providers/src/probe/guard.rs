//! The SSRF guard: unless private networks are allowed, byok connects only to public
//! addresses. Overrides are checked when the prober is built; names are checked again
//! at connect time by the resolver, so a name that later resolves to a private address
//! (DNS rebinding) is refused too.

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use thiserror::Error;

use super::Failure;

/// Whether `ip` is an address on the public internet.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT, 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, 198.18.0.0/15
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return v4.iter().all(|v4| is_public_v4(*v4));
    }
    let segments = ip.segments();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (segments[0] & 0xffc0) == 0xfec0 // deprecated site-local
        || segments[..3] == [0x64, 0xff9b, 1] // local-use NAT64, 64:ff9b:1::/48 (RFC 8215)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8); // documentation
    !special
}

/// The IPv4 addresses an IPv6 address reaches or stands for, which decide whether it
/// is public: IPv4-mapped and IPv4-compatible (`::ffff:a.b.c.d`, `::a.b.c.d`), NAT64
/// (`64:ff9b::/96`), 6to4 (`2002::/16`) and Teredo (`2001::/32`: its server, and its
/// client as the inverted last 32 bits).
fn embedded_v4(ip: Ipv6Addr) -> Option<Vec<Ipv4Addr>> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return Some(vec![mapped]);
    }
    match s {
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None, // the unspecified and loopback addresses
        [0, 0, 0, 0, 0, 0, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(vec![v4(hi, lo)]),
        [0x2002, hi, lo, ..] => Some(vec![v4(hi, lo)]),
        [0x2001, 0, server_hi, server_lo, .., hi, lo] => Some(vec![v4(server_hi, server_lo), v4(!hi, !lo)]),
        _ => None,
    }
}

/// The resolver error for a name whose every address is refused.
#[derive(Debug, Error)]
#[error("the host resolves only to loopback, private or link-local addresses")]
pub(crate) struct BlockedAddress;

/// `host`'s addresses that the guard lets through; empty when it refuses them all.
async fn permitted_addrs(host: &str, port: u16, allow_private: bool) -> std::io::Result<Vec<SocketAddr>> {
    Ok(tokio::net::lookup_host((host, port)).await?.filter(|addr| allow_private || is_public(addr.ip())).collect())
}

/// The addresses the proxy may connect to for `host`.
pub(crate) async fn guarded_addrs(host: &str, port: u16, allow_private: bool) -> Result<Vec<SocketAddr>, Failure> {
    let found = permitted_addrs(host, port, allow_private).await.map_err(|_| Failure::Connect)?;
    if found.is_empty() { Err(Failure::Blocked) } else { Ok(found) }
}

/// A DNS resolver that drops non-public addresses unless private networks are allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = permitted_addrs(&host, 0, allow_private).await?;
            if found.is_empty() {
                return Err(Box::new(BlockedAddress) as Box<dyn StdError + Send + Sync>);
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn local_and_private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.5.5.5",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!public(ip), "{ip} counted as public");
        }
    }

    #[test]
    fn ssrf_guard_classifies_embedded_ipv4() {
        for ip in [
            "::127.0.0.1",
            "::10.0.0.1",
            "::169.254.169.254",
            "::ffff:169.254.169.254",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101:1::1",
            "64:ff9b::127.0.0.1",
            "64:ff9b:1::a9fe:a9fe",
            "64:ff9b:1:a9fe:a9:fe00::",
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo, client 127.0.0.1
            "2001:0:4136:e378:8000:63bf:f5ff:fffe", // Teredo, client 10.0.0.1
            "2001:0:a00:1:8000:63bf:fef6:fef4",     // Teredo via server 10.0.0.1
        ] {
            assert!(!public(ip), "{ip} counted as public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
            "::8.8.8.8",
            "2002:808:808::1",
            "64:ff9b::8.8.8.8",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7", // Teredo, client 8.8.8.8
        ] {
            assert!(public(ip), "{ip} counted as private");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_local_addresses() {
        let guarded = GuardedResolver { allow_private: false };
        let name: Name = "localhost".parse().unwrap();
        let err = guarded.resolve(name).await.err().unwrap();
        assert!(err.is::<BlockedAddress>());
        let open = GuardedResolver { allow_private: true };
        let name: Name = "localhost".parse().unwrap();
        let addrs: Vec<_> = open.resolve(name).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
