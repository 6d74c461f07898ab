//! Who owns the other end of a loopback TCP connection, asked of the kernel
//! through its socket-diagnostics netlink interface (`sock_diag`, as `ss`
//! does), so that a sandbox's Runtime API serves its own runtime only.
//!
//! One request names the connection's four-tuple exactly; the kernel answers
//! with that socket's owner uid. The message layouts (`inet_diag_req_v2`,
//! `inet_diag_msg`) are Linux's `linux/inet_diag.h`, not in the libc crate.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_HEADER: usize = 16;
/// `inet_diag_msg`: family, state, timer, retrans, the 48-byte socket id,
/// expires, rqueue, wqueue, then the uid.
const UID_OFFSET: usize = 4 + 48 + 12;

/// The uid owning the socket whose local address is `local` and whose peer is `remote`.
pub fn socket_uid(local: SocketAddr, remote: SocketAddr) -> std::io::Result<u32> {
    let (SocketAddr::V4(l), SocketAddr::V4(r)) = (local, remote) else {
        return Err(std::io::Error::other("only IPv4 loopback is looked up"));
    };
    let mut req = Vec::with_capacity(NLMSG_HEADER + 56);
    req.extend_from_slice(&((NLMSG_HEADER + 56) as u32).to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req.extend_from_slice(&[0; 8]); // sequence, port id
    req.extend_from_slice(&[libc::AF_INET as u8, libc::IPPROTO_TCP as u8, 0, 0]);
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    req.extend_from_slice(&l.port().to_be_bytes());
    req.extend_from_slice(&r.port().to_be_bytes());
    for ip in [l.ip(), r.ip()] {
        req.extend_from_slice(&ip.octets());
        req.extend_from_slice(&[0; 12]);
    }
    req.extend_from_slice(&0u32.to_ne_bytes()); // any interface
    req.extend_from_slice(&[0xff; 8]); // no cookie
    let socket = netlink()?;
    // SAFETY: the buffer is valid for its length.
    if unsafe { libc::send(socket.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut answer = [0u8; 512];
    // SAFETY: the buffer is valid for its length.
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            answer.as_mut_ptr().cast(),
            answer.len(),
            0,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let answer = &answer[..n as usize];
    let kind = answer.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let uid = answer.get(NLMSG_HEADER + UID_OFFSET..NLMSG_HEADER + UID_OFFSET + 4);
    match (kind, uid) {
        (Some(SOCK_DIAG_BY_FAMILY), Some(uid)) => {
            Ok(u32::from_ne_bytes([uid[0], uid[1], uid[2], uid[3]]))
        }
        (Some(NLMSG_ERROR), _) => Err(std::io::Error::other("no such socket")),
        _ => Err(std::io::Error::other("unexpected sock_diag answer")),
    }
}

fn netlink() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket creation.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor just opened, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_owner_of_a_loopback_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        assert_eq!(
            socket_uid(peer, listener.local_addr().unwrap()).unwrap(),
            me
        );
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(socket_uid(nobody, listener.local_addr().unwrap()).is_err());
    }
}
