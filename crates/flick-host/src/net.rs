//! Socket settings every listener of the host shares.

/// Every write on the host's connections is a whole message (a response, a
/// streamed chunk): it must leave at once, not wait for the peer's ACK of
/// the one before.
pub(crate) fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("cannot set TCP_NODELAY: {e}");
    }
}
