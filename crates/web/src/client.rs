//! Who is calling: the client's address (from the connection, or from `X-Forwarded-For` when
//! the connection comes from a configured proxy) and user agent.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts, Request},
    http::{HeaderMap, request::Parts},
    middleware::Next,
    response::Response,
};

use crate::{error::ApiError, state::AppState};

/// An address range such as `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (canonical(self.network), ip) {
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

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) compare as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The caller, as far as the server can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

impl Client {
    fn from_request(
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
        trusted_proxies: &[IpRange],
    ) -> Self {
        let peer_ip = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| canonical(p.ip()));
        let trusted = |ip: IpAddr| trusted_proxies.iter().any(|range| range.contains(ip));
        let mut ip = peer_ip;
        if trusted(peer_ip) {
            // Walk X-Forwarded-For from the right: the first address not of a trusted proxy is
            // the client. Entries further left are whatever the client claimed.
            let forwarded: Vec<IpAddr> = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|part| part.trim().parse::<IpAddr>().ok())
                .map(canonical)
                .collect();
            for hop in forwarded.into_iter().rev() {
                ip = hop;
                if !trusted(hop) {
                    break;
                }
            }
        }
        let user_agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        Self { ip, user_agent }
    }
}

/// Works the client out once per request (the global rate limit needs it first).
pub async fn identify(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let client = Client::from_request(peer, request.headers(), &state.settings().trusted_proxies);
    request.extensions_mut().insert(client);
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Client>().cloned().unwrap_or(Client {
            ip: IpAddr::from([0, 0, 0, 0]),
            user_agent: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    #[test]
    fn ranges_match_addresses() {
        let range = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(range.contains("10.1.2.3".parse().unwrap()));
        assert!(range.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!range.contains("11.0.0.1".parse().unwrap()));
        let single = IpRange::parse("::1").unwrap();
        assert!(single.contains("::1".parse().unwrap()));
        assert!(!single.contains("::2".parse().unwrap()));
        assert!(
            IpRange::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(IpRange::parse("10.0.0.0/33").is_none());
        assert!(IpRange::parse("nonsense").is_none());
        assert_eq!(range.to_string(), "10.0.0.0/8");
        assert_eq!(single.to_string(), "::1/128");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let peer: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let spoofed = Client::from_request(Some(peer), &headers("1.2.3.4"), &[]);
        assert_eq!(spoofed.ip, "203.0.113.9".parse::<IpAddr>().unwrap());

        let proxies = [IpRange::parse("10.0.0.0/8").unwrap()];
        let proxy: SocketAddr = "10.0.0.5:5000".parse().unwrap();
        let client = Client::from_request(
            Some(proxy),
            &headers("6.6.6.6, 198.51.100.7, 10.0.0.9"),
            &proxies,
        );
        assert_eq!(client.ip, "198.51.100.7".parse::<IpAddr>().unwrap());
        let garbage = Client::from_request(Some(proxy), &headers("not-an-ip"), &proxies);
        assert_eq!(garbage.ip, "10.0.0.5".parse::<IpAddr>().unwrap());
    }
}
