//! A Redis (or Valkey) store of idempotency records, shared by every
//! sandbox of a function: one blocking connection per store, speaking the
//! few commands it needs (`SET … NX PX`, `GET`, `DEL`, one compare-and-set
//! script) in RESP2. Hand-written because the `redis` crate would add more
//! to every binary that enables the feature than the whole SDK weighs, for
//! four commands. Plain TCP without AUTH: not for TLS-only servers
//! (ElastiCache Serverless) or clusters; a call blocks the thread it runs
//! on (3 s at most per step).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use super::store::{Record, Store};

/// Replaces a stale in-progress record only if it is still the one read.
const TAKE_OVER: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) else return false end";

/// Records in Redis or Valkey at `host:port`.
#[derive(Debug)]
pub struct RedisStore {
    addr: String,
    conn: Mutex<Option<BufReader<TcpStream>>>,
}

/// A RESP2 reply.
#[derive(Debug, PartialEq)]
enum Reply {
    Ok,
    Nil,
    Bulk(Vec<u8>),
    Int(i64),
}

impl RedisStore {
    /// A store at `addr` (`127.0.0.1:6379`); it connects on first use.
    pub fn new(addr: impl Into<String>) -> Self {
        RedisStore {
            addr: addr.into(),
            conn: Mutex::new(None),
        }
    }

    /// Sends one command. A connection that fails while the command is
    /// written (one the server closed while idle) is replaced and the
    /// command sent again; after it was written, nothing is sent twice (a
    /// `SET NX` that ran must not be run again), and a connection that
    /// failed mid-reply is dropped so no late reply answers another command.
    fn command(&self, args: &[&[u8]]) -> io::Result<Reply> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let request = encode(args);
        for attempt in 0..2 {
            if conn.is_none() {
                *conn = Some(connect(&self.addr)?);
            }
            let Some(reader) = conn.as_mut() else {
                continue;
            };
            if let Err(e) = reader.get_mut().write_all(&request) {
                *conn = None;
                if attempt == 0 {
                    continue;
                }
                return Err(e);
            }
            let reply = read_reply(reader);
            if matches!(&reply, Err(e) if !is_server_error(e)) {
                *conn = None;
            }
            return reply;
        }
        Err(io::Error::other("no connection to Redis"))
    }
}

/// A connection with bounded waits: connecting, writing and reading each
/// give up after a few seconds rather than outlast the invocation.
fn connect(addr: &str) -> io::Result<BufReader<TcpStream>> {
    let limit = Duration::from_secs(3);
    let target = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{addr} has no address")))?;
    let stream = TcpStream::connect_timeout(&target, limit)?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    stream.set_nodelay(true)?;
    Ok(BufReader::new(stream))
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A whole `-ERR …` reply: the connection is still in step.
fn is_server_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidData && e.to_string().starts_with("Redis says: ")
}

/// The largest bulk reply taken (Redis's own limit on a string).
const MAX_BULK: usize = 512 * 1024 * 1024;

fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "Redis closed the connection",
        ));
    }
    let line = line.trim_end_matches("\r\n");
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("Redis: {what}"));
    let (kind, rest) = line.split_at(line.len().min(1));
    match kind {
        "+" => Ok(Reply::Ok),
        "-" => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("Redis says: {rest}"),
        )),
        ":" => rest
            .parse()
            .map(Reply::Int)
            .map_err(|_| bad("a bad integer")),
        "$" if rest == "-1" => Ok(Reply::Nil),
        "$" => {
            let len: usize = rest.parse().map_err(|_| bad("a bad length"))?;
            if len > MAX_BULK {
                return Err(bad("a reply over 512 MiB"));
            }
            let mut data = vec![0; len + 2];
            reader.read_exact(&mut data)?;
            data.truncate(len);
            Ok(Reply::Bulk(data))
        }
        _ => Err(bad(&format!("an unexpected reply {line:?}"))),
    }
}

fn json(record: &Record) -> io::Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(io::Error::other)
}

fn ttl_ms(record: &Record, now_ms: i64) -> Vec<u8> {
    (record.expires_ms - now_ms).max(1).to_string().into_bytes()
}

fn now_ms() -> i64 {
    super::epoch_ms(std::time::SystemTime::now())
}

impl Store for RedisStore {
    fn claim(&self, record: &Record, now_ms: i64) -> io::Result<Option<Record>> {
        let value = json(record)?;
        let key = record.key.as_bytes();
        // Set, or find the record there; one that vanishes meanwhile is tried again.
        for _ in 0..3 {
            let ttl = ttl_ms(record, now_ms);
            if self.command(&[b"SET", key, &value, b"NX", b"PX", &ttl])? == Reply::Ok {
                return Ok(None);
            }
            let Reply::Bulk(found) = self.command(&[b"GET", key])? else {
                continue;
            };
            let parsed: Record = serde_json::from_slice(&found).map_err(io::Error::other)?;
            if parsed.claim_id == record.claim_id {
                // Our own claim, whose answer was lost: it is ours.
                return Ok(None);
            }
            if parsed.is_live(now_ms) {
                return Ok(Some(parsed));
            }
            // A stale in-progress record (its invocation died): taken over
            // only if no one else did first.
            let script = TAKE_OVER.as_bytes();
            let taken = self.command(&[b"EVAL", script, b"1", key, &found, &value, &ttl])?;
            if taken == Reply::Ok {
                return Ok(None);
            }
        }
        Err(io::Error::other(
            "the idempotency record kept changing under this request",
        ))
    }

    fn put(&self, record: &Record) -> io::Result<()> {
        let ttl = ttl_ms(record, now_ms());
        self.command(&[b"SET", record.key.as_bytes(), &json(record)?, b"PX", &ttl])?;
        Ok(())
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        self.command(&[b"DEL", key.as_bytes()])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_as_resp2_says() {
        let mut input: &[u8] = b"+OK\r\n$-1\r\n$5\r\nhello\r\n:3\r\n-ERR wrong\r\n";
        assert_eq!(read_reply(&mut input).unwrap(), Reply::Ok);
        assert_eq!(read_reply(&mut input).unwrap(), Reply::Nil);
        assert_eq!(
            read_reply(&mut input).unwrap(),
            Reply::Bulk(b"hello".to_vec())
        );
        assert_eq!(read_reply(&mut input).unwrap(), Reply::Int(3));
        let e = read_reply(&mut input).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("ERR wrong"));
    }
}
