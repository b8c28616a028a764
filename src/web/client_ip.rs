//! The client's address (SECURITY-BAR LG-4): the socket peer, or the nearest untrusted hop in
//! `X-Forwarded-For` when (and only when) the peer is one of `trusted_proxies`.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use rocket::request::{self, FromRequest, Request};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Walks `X-Forwarded-For` from the right (the hop nearest to us), skipping our own proxies;
/// the first address that is not one of them is the client. Entries further left were
/// written by the client and prove nothing.
pub fn resolve(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>().map(canonical) {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // Garbage in the chain: stop at the last hop we could trust.
            Err(_) => break,
        }
    }
    client
}

/// `::ffff:1.2.3.4` and `1.2.3.4` are one client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The socket peer (unspecified when there is none, as in Rocket's local test client).
fn peer(req: &Request<'_>) -> IpAddr {
    req.remote()
        .map(|a| canonical(a.ip()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn trusted_proxies<'r>(req: &'r Request<'_>) -> &'r [IpNet] {
    req.rocket()
        .state::<crate::app::App>()
        .map(|a| a.settings.trusted_proxies.as_slice())
        .unwrap_or(&[])
}

/// Whether the request came straight from one of `trusted_proxies`: the one rule for every
/// header a proxy sets (`X-Forwarded-For` here, the forward-auth headers in
/// `routes::forward_auth`). From anyone else those headers are the client's own words.
pub fn from_trusted_proxy(req: &Request<'_>) -> bool {
    let peer = peer(req);
    trusted_proxies(req).iter().any(|net| net.contains(&peer))
}

impl ClientIp {
    pub fn of(req: &Request<'_>) -> ClientIp {
        let xff: Vec<&str> = req.headers().get("X-Forwarded-For").collect();
        ClientIp(resolve(peer(req), &xff, trusted_proxies(req)))
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientIp {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        request::Outcome::Success(ClientIp::of(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_cannot_claim_an_address() {
        assert_eq!(
            resolve(ip("203.0.113.9"), &["1.2.3.4"], &[]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_proxy_reports_the_nearest_untrusted_hop() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                &["6.6.6.6, 198.51.100.7, 10.0.0.5"],
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(resolve(ip("10.0.0.2"), &[], &trusted), ip("10.0.0.2"));
        assert_eq!(
            resolve(ip("10.0.0.2"), &["nonsense, 198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), &["198.51.100.7, nonsense"], &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            resolve(ip("::ffff:10.0.0.2"), &["::ffff:198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
    }
}
