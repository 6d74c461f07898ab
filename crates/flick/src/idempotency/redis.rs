//! A Redis (or Valkey) store of idempotency records, shared by every
//! sandbox of a function: one blocking connection per store, speaking the
//! few commands it needs (`SET … NX PX`, `GET`, `DEL`, one compare-and-set
//! script) in RESP2. Hand-written because the `redis` crate would add more
//! to every binary that enables the feature than the whole SDK weighs, for
//! four commands; it reconnects once when a connection has gone bad.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
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

    /// Sends one command; on a broken connection, connects again and resends once.
    fn command(&self, args: &[&[u8]]) -> io::Result<Reply> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        for attempt in 0..2 {
            if conn.is_none() {
                let stream = TcpStream::connect(&self.addr)?;
                stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                stream.set_nodelay(true)?;
                *conn = Some(BufReader::new(stream));
            }
            let Some(reader) = conn.as_mut() else {
                continue;
            };
            match round_trip(reader, args) {
                Ok(reply) => return Ok(reply),
                Err(e) if attempt == 0 && e.kind() != io::ErrorKind::InvalidData => *conn = None,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("no connection to Redis"))
    }
}

fn round_trip(reader: &mut BufReader<TcpStream>, args: &[&[u8]]) -> io::Result<Reply> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    reader.get_mut().write_all(&out)?;
    read_reply(reader)
}

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
        "-" => Err(bad(rest)),
        ":" => rest
            .parse()
            .map(Reply::Int)
            .map_err(|_| bad("a bad integer")),
        "$" if rest == "-1" => Ok(Reply::Nil),
        "$" => {
            let len: usize = rest.parse().map_err(|_| bad("a bad length"))?;
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
