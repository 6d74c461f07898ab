//! Where the Runtime API listens, from `AWS_LAMBDA_RUNTIME_API`.
//!
//! Lambda and the Flick host give `IP:port` (`127.0.0.1:9001`). `localhost`
//! is accepted as a name for loopback, an `http://` scheme and a path prefix
//! are tolerated; other host names are refused with a clear message rather
//! than resolved, because DNS resolution costs ~5 KB in every binary for a
//! case no host produces.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) addr: SocketAddr,
    /// As given, for the `Host` header.
    pub(crate) authority: String,
    /// Prepended to every path; empty unless the variable had one.
    pub(crate) prefix: String,
}

impl Endpoint {
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        let without_scheme = value.strip_prefix("http://").unwrap_or(value);
        let (authority, prefix) = match without_scheme.find('/') {
            Some(slash) => without_scheme.split_at(slash),
            None => (without_scheme, ""),
        };
        let addr = authority.parse::<SocketAddr>().ok().or_else(|| {
            let port = authority.strip_prefix("localhost:")?.parse().ok()?;
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
        });
        match addr {
            Some(addr) => Ok(Self {
                addr,
                authority: authority.to_owned(),
                prefix: prefix.trim_end_matches('/').to_owned(),
            }),
            None => Err(format!(
                "AWS_LAMBDA_RUNTIME_API must be IP:port (or localhost:port), got \"{value}\""
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_hosts_give() {
        let e = Endpoint::parse("127.0.0.1:9001").unwrap();
        assert_eq!((e.addr.port(), e.prefix.as_str()), (9001, ""));
        let e = Endpoint::parse("http://[::1]:9000/.rt/").unwrap();
        assert_eq!(
            (e.addr.port(), e.prefix.as_str(), e.authority.as_str()),
            (9000, "/.rt", "[::1]:9000")
        );
        assert!(Endpoint::parse("localhost:80")
            .unwrap()
            .addr
            .ip()
            .is_loopback());
    }

    #[test]
    fn refuses_what_it_cannot_reach_without_dns() {
        let message = Endpoint::parse("runtime.internal:9001").unwrap_err();
        assert!(message.contains("must be IP:port"), "{message}");
        assert!(Endpoint::parse("127.0.0.1").is_err());
    }
}
