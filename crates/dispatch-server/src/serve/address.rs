//! Who a connection or request is from, and how many connections each address holds.
//!
//! The client address is the TCP peer's, except when the peer is a configured trusted proxy:
//! then it is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (the
//! entries to its left were written by the client and cannot be believed). Without trusted
//! proxies the header is ignored, so a client cannot choose its own address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::HeaderMap;

/// The address a request is from (a request extension set by the accept loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// A trusted proxy entry was not an address or an `address/prefix` network.
#[derive(Debug, thiserror::Error)]
#[error("not an IP address or network (ADDRESS/PREFIX): {0:?}")]
pub struct BadProxy(String);

/// The proxies whose `X-Forwarded-For` is believed: addresses and networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl std::str::FromStr for TrustedProxies {
    type Err = BadProxy;

    /// A comma-separated list of addresses and networks, `10.0.0.0/8,127.0.0.1,::1`.
    fn from_str(text: &str) -> Result<Self, BadProxy> {
        let mut networks = Vec::new();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let bad = || BadProxy(item.to_owned());
            let (address, prefix) = match item.split_once('/') {
                Some((address, prefix)) => (address, Some(prefix)),
                None => (item, None),
            };
            let address: IpAddr = address.parse().map_err(|_| bad())?;
            let bits = if address.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(prefix) => prefix
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= bits)
                    .ok_or_else(bad)?,
                None => bits,
            };
            networks.push((address, prefix));
        }
        Ok(Self(networks))
    }
}

/// The leading `prefix` bits of an address, as a number (IPv4-mapped IPv6 taken as IPv4).
fn masked(address: IpAddr, prefix: u8) -> (bool, u128) {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let (is_v4, bits, value) = match address {
        IpAddr::V4(v4) => (true, 32u32, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (false, 128u32, u128::from(v6)),
    };
    let keep = u32::from(prefix).min(bits);
    let value = if keep == 0 { 0 } else { value >> (bits - keep) };
    (is_v4, value)
}

impl TrustedProxies {
    /// Whether `address` is one of the trusted proxies.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0
            .iter()
            .any(|(network, prefix)| masked(*network, *prefix) == masked(address, *prefix))
    }

    /// Whether any proxy is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client address of a request from `peer` with these headers.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        // Right to left: every hop a trusted proxy appended, until the first untrusted one.
        let entries = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for entry in entries.iter().rev() {
            let Ok(address) = entry.parse::<IpAddr>() else {
                // An unreadable hop: what is left of it cannot be believed either.
                return client;
            };
            client = address;
            if !self.contains(address) {
                break;
            }
        }
        client
    }
}

/// Connections held per address, with a cap.
#[derive(Debug)]
pub(crate) struct AddressCounts {
    cap: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection (or proxied request) of an address, counted until dropped.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    owner: Arc<AddressCounts>,
    address: IpAddr,
}

impl AddressCounts {
    /// Counts refusing the `cap + 1`-th connection of an address.
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap,
            counts: Mutex::new(HashMap::new()),
        })
    }

    // Every mutation is a single update: a poisoned lock is still consistent.
    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One more for `address`, or `None` at the cap.
    pub(crate) fn acquire(self: &Arc<Self>, address: IpAddr) -> Option<AddressSlot> {
        let mut counts = self.counts();
        let count = counts.entry(address).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            owner: Arc::clone(self),
            address,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.owner.counts();
        if let Some(count) = counts.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_networks() {
        let proxies: TrustedProxies = "10.0.0.0/8, 127.0.0.1,::1".parse().expect("parses");
        assert!(proxies.contains(ip("10.1.2.3")));
        assert!(proxies.contains(ip("127.0.0.1")));
        assert!(proxies.contains(ip("::ffff:127.0.0.1")), "IPv4-mapped");
        assert!(proxies.contains(ip("::1")));
        assert!(!proxies.contains(ip("127.0.0.2")));
        assert!(!proxies.contains(ip("11.0.0.1")));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.internal".parse::<TrustedProxies>().is_err());
        assert!("".parse::<TrustedProxies>().expect("empty").is_empty());
    }

    #[test]
    fn x_forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().expect("parses");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 2.2.2.2, 10.0.0.7"),
        );
        // From the proxy: the right-most untrusted hop (1.1.1.1 is the client's own claim).
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), &headers),
            ip("2.2.2.2")
        );
        // Straight from a client: the header is ignored.
        assert_eq!(
            proxies.client_address(ip("3.3.3.3"), &headers),
            ip("3.3.3.3")
        );
        headers.insert("x-forwarded-for", HeaderValue::from_static("junk"));
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), &headers),
            ip("10.0.0.1")
        );
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_address(ip("10.0.0.1"), &headers),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn an_address_holds_at_most_the_cap() {
        let counts = AddressCounts::new(2);
        let a = counts.acquire(ip("127.0.0.2")).expect("1st");
        let _b = counts.acquire(ip("127.0.0.2")).expect("2nd");
        assert!(counts.acquire(ip("127.0.0.2")).is_none());
        assert!(counts.acquire(ip("127.0.0.3")).is_some());
        drop(a);
        assert!(counts.acquire(ip("127.0.0.2")).is_some());
    }
}
