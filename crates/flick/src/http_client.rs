//! A blocking HTTP/1.1 client for exactly one peer: the Runtime API on loopback.
//!
//! Owns the connection (kept alive, reconnected once when the peer closed it),
//! writing requests, and reading status, headers and body (`Content-Length`,
//! chunked, or until close). Buffers live as long as the client, so a request
//! allocates nothing once they have grown to the largest message seen.
//!
//! Hand-written on purpose: this is the product's hot path, and hyper + tokio
//! would more than double the binary (see the crate docs for the measurements).
//! It is not a general HTTP client: no TLS, no redirects, no proxies, no
//! pipelining, no `Expect: 100-continue`.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;

use crate::endpoint::Endpoint;

/// Room for a status line or one header line; Runtime API heads are small.
const LINE_BUFFER: usize = 8 * 1024;

/// A request to send: the path is given in pieces so that a request id can be
/// spliced in without building a `String`.
pub(crate) struct Request<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a [&'a str],
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) body: &'a [u8],
}

/// How the response body is delimited.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

pub(crate) struct HttpClient {
    endpoint: Endpoint,
    stream: Option<TcpStream>,
    head: Vec<u8>,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// Read, write and connect limit: the OTLP exporter talks to a peer that
    /// may hang, unlike the Runtime API, whose waits are the protocol.
    #[cfg(feature = "opentelemetry")]
    timeout: Option<std::time::Duration>,
}

impl HttpClient {
    /// A client for `endpoint`; connects on first use.
    pub(crate) fn new(endpoint: &Endpoint) -> Self {
        Self {
            endpoint: endpoint.clone(),
            stream: None,
            head: Vec::with_capacity(256),
            buf: vec![0; LINE_BUFFER].into_boxed_slice(),
            pos: 0,
            len: 0,
            #[cfg(feature = "opentelemetry")]
            timeout: None,
        }
    }

    /// A client whose connects, reads and writes each give up after `limit`.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn with_timeout(endpoint: &Endpoint, limit: std::time::Duration) -> Self {
        Self {
            timeout: Some(limit),
            ..Self::new(endpoint)
        }
    }

    /// Sends `request`, calls `on_header` for every response header, puts the
    /// body in `body` (cleared first) and returns the status code.
    ///
    /// A kept-alive connection the peer has closed in the meantime is noticed
    /// by a failure before any response byte arrives; the request is then sent
    /// once more on a fresh connection.
    pub(crate) fn send(
        &mut self,
        request: &Request<'_>,
        on_header: &mut dyn FnMut(&[u8], &[u8]),
        body: &mut Vec<u8>,
    ) -> io::Result<u16> {
        let reused = self.stream.is_some();
        match self.exchange(request, on_header, body) {
            Err(Failure::BeforeResponse(_)) if reused => {
                self.disconnect();
                self.exchange(request, on_header, body)
                    .map_err(Failure::into_io)
            }
            other => other.map_err(Failure::into_io),
        }
    }

    fn exchange(
        &mut self,
        request: &Request<'_>,
        on_header: &mut dyn FnMut(&[u8], &[u8]),
        body: &mut Vec<u8>,
    ) -> Result<u16, Failure> {
        self.write_request(request)
            .map_err(Failure::BeforeResponse)?;
        let result = self.read_response(on_header, body);
        if result.is_err() {
            self.disconnect();
        }
        result
    }

    fn write_request(&mut self, request: &Request<'_>) -> io::Result<()> {
        let head = &mut self.head;
        head.clear();
        head.extend_from_slice(request.method.as_bytes());
        head.push(b' ');
        head.extend_from_slice(self.endpoint.prefix.as_bytes());
        for piece in request.path {
            head.extend_from_slice(piece.as_bytes());
        }
        write!(
            head,
            " HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.endpoint.authority,
            request.body.len()
        )?;
        for (name, value) in request.headers {
            write!(head, "{name}: {value}\r\n")?;
        }
        head.extend_from_slice(b"\r\n");

        if self.stream.is_none() {
            #[cfg(not(feature = "opentelemetry"))]
            let stream = TcpStream::connect(self.endpoint.addr)?;
            #[cfg(feature = "opentelemetry")]
            let stream = self.connect()?;
            // Small writes must leave at once, not wait for the peer's ACK.
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.pos = 0;
            self.len = 0;
        }
        let stream = self.stream.as_mut().expect("connected just above");
        // Head and body in one vectored write: one packet for the peer to
        // wake up to, instead of two (measured: ~50 µs per invocation).
        let mut slices = [IoSlice::new(&self.head), IoSlice::new(request.body)];
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            match stream.write_vectored(slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read_response(
        &mut self,
        on_header: &mut dyn FnMut(&[u8], &[u8]),
        body: &mut Vec<u8>,
    ) -> Result<u16, Failure> {
        let status = {
            let line = self.read_line().map_err(Failure::BeforeResponse)?;
            parse_status(line).ok_or_else(|| Failure::After(invalid("malformed status line")))?
        };
        let mut framing = Framing::UntilClose;
        let mut close = false;
        loop {
            let line = self.read_line().map_err(Failure::After)?;
            if line.is_empty() {
                break;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return Err(Failure::After(invalid("malformed header line")));
            };
            let name = &line[..colon];
            let value = line[colon + 1..].trim_ascii();
            if name.eq_ignore_ascii_case(b"content-length") {
                let n = parse_decimal(value)
                    .ok_or_else(|| Failure::After(invalid("bad Content-Length")))?;
                framing = Framing::Length(n);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                if value.eq_ignore_ascii_case(b"chunked") {
                    framing = Framing::Chunked;
                }
            } else if name.eq_ignore_ascii_case(b"connection") {
                close = value.eq_ignore_ascii_case(b"close");
            }
            on_header(name, value);
        }

        body.clear();
        let no_body = status == 204 || status == 304 || (100..200).contains(&status);
        match framing {
            _ if no_body => {}
            Framing::Length(n) => self.read_exact_into(body, n).map_err(Failure::After)?,
            Framing::Chunked => self.read_chunked(body).map_err(Failure::After)?,
            Framing::UntilClose => {
                self.read_to_end(body).map_err(Failure::After)?;
                close = true;
            }
        }
        if close {
            self.disconnect();
        }
        Ok(status)
    }

    fn read_chunked(&mut self, body: &mut Vec<u8>) -> io::Result<()> {
        loop {
            let size = {
                let line = self.read_line()?;
                let digits = line.split(|&b| b == b';').next().unwrap_or_default();
                parse_hex(digits.trim_ascii()).ok_or_else(|| invalid("bad chunk size"))?
            };
            if size == 0 {
                // Trailers, then the empty line that ends the message.
                while !self.read_line()?.is_empty() {}
                return Ok(());
            }
            self.read_exact_into(body, size)?;
            if !self.read_line()?.is_empty() {
                return Err(invalid("chunk not followed by CRLF"));
            }
        }
    }

    /// Returns the next line without its CRLF, reading more as needed.
    fn read_line(&mut self) -> io::Result<&[u8]> {
        loop {
            let pending = &self.buf[self.pos..self.len];
            if let Some(i) = pending.windows(2).position(|w| w == b"\r\n") {
                let start = self.pos;
                self.pos += i + 2;
                return Ok(&self.buf[start..start + i]);
            }
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.len, 0);
                self.len -= self.pos;
                self.pos = 0;
            }
            if self.len == self.buf.len() {
                return Err(invalid("response header line too long"));
            }
            self.fill()?;
        }
    }

    /// Appends exactly `n` body bytes to `out`: first what is buffered, then
    /// straight from the socket into `out` (no second copy for large events).
    fn read_exact_into(&mut self, out: &mut Vec<u8>, n: usize) -> io::Result<()> {
        let buffered = n.min(self.len - self.pos);
        out.extend_from_slice(&self.buf[self.pos..self.pos + buffered]);
        self.pos += buffered;
        let rest = n - buffered;
        if rest > 0 {
            let start = out.len();
            out.resize(start + rest, 0);
            self.stream()?.read_exact(&mut out[start..])?;
        }
        Ok(())
    }

    fn read_to_end(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        out.extend_from_slice(&self.buf[self.pos..self.len]);
        self.pos = self.len;
        self.stream()?.read_to_end(out)?;
        Ok(())
    }

    fn fill(&mut self) -> io::Result<()> {
        let len = self.len;
        let stream = self.stream.as_mut().ok_or_else(not_connected)?;
        let n = stream.read(&mut self.buf[len..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the Runtime API closed the connection",
            ));
        }
        self.len += n;
        Ok(())
    }

    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream.as_mut().ok_or_else(not_connected)
    }

    #[cfg(feature = "opentelemetry")]
    fn connect(&self) -> io::Result<TcpStream> {
        let Some(limit) = self.timeout else {
            return TcpStream::connect(self.endpoint.addr);
        };
        let stream = TcpStream::connect_timeout(&self.endpoint.addr, limit)?;
        stream.set_read_timeout(Some(limit))?;
        stream.set_write_timeout(Some(limit))?;
        Ok(stream)
    }

    fn disconnect(&mut self) {
        self.stream = None;
        self.pos = 0;
        self.len = 0;
    }
}

/// Writes every slice, however the kernel splits the writes.
#[cfg(feature = "http")]
fn write_all_vectored(stream: &mut TcpStream, slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    let mut slices = slices;
    while !slices.is_empty() {
        match stream.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A request whose body is sent in chunks as it is produced, ended with
/// trailers (the Runtime API's streaming responses). Never retried: part of
/// the body may already be gone.
#[cfg(feature = "http")]
impl HttpClient {
    /// Sends the head of `request` (its `body` is ignored).
    ///
    /// Builds the head like `write_request` but apart from it, so that the
    /// default build's hot path compiles exactly as before (sharing one
    /// head builder cost the echo 96 bytes).
    pub(crate) fn begin_chunked(&mut self, request: &Request<'_>) -> io::Result<()> {
        let result = self.write_chunked_head(request);
        if result.is_err() {
            self.disconnect();
        }
        result
    }

    fn write_chunked_head(&mut self, request: &Request<'_>) -> io::Result<()> {
        let head = &mut self.head;
        head.clear();
        head.extend_from_slice(request.method.as_bytes());
        head.push(b' ');
        head.extend_from_slice(self.endpoint.prefix.as_bytes());
        for piece in request.path {
            head.extend_from_slice(piece.as_bytes());
        }
        write!(
            head,
            " HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\n",
            self.endpoint.authority
        )?;
        for (name, value) in request.headers {
            write!(head, "{name}: {value}\r\n")?;
        }
        head.extend_from_slice(b"\r\n");
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.endpoint.addr)?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.pos = 0;
            self.len = 0;
        }
        let stream = self.stream.as_mut().ok_or_else(not_connected)?;
        stream.write_all(&self.head)
    }

    /// Sends one chunk; an empty `data` sends nothing (it would end the body).
    pub(crate) fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let size = format!("{:x}\r\n", data.len());
        let stream = self.stream()?;
        let mut slices = [
            IoSlice::new(size.as_bytes()),
            IoSlice::new(data),
            IoSlice::new(b"\r\n"),
        ];
        let result = write_all_vectored(stream, &mut slices);
        if result.is_err() {
            self.disconnect();
        }
        result
    }

    /// Ends the body with `trailers`, then reads the response like [`send`](Self::send).
    pub(crate) fn end_chunked(
        &mut self,
        trailers: &[(&str, &str)],
        body: &mut Vec<u8>,
    ) -> io::Result<u16> {
        let mut end = String::from("0\r\n");
        for (name, value) in trailers {
            end.push_str(name);
            end.push_str(": ");
            end.push_str(value);
            end.push_str("\r\n");
        }
        end.push_str("\r\n");
        let written = self.stream().and_then(|s| s.write_all(end.as_bytes()));
        let result = written
            .map_err(Failure::After)
            .and_then(|()| self.read_response(&mut |_, _| {}, body))
            .map_err(Failure::into_io);
        if result.is_err() {
            self.disconnect();
        }
        result
    }
}

/// Where an exchange failed: before any response byte, the request can safely
/// be sent again on a new connection.
enum Failure {
    BeforeResponse(io::Error),
    After(io::Error),
}

impl Failure {
    fn into_io(self) -> io::Error {
        match self {
            Failure::BeforeResponse(e) | Failure::After(e) => e,
        }
    }
}

fn parse_status(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    (rest.get(1) == Some(&b' ')).then_some(())?;
    u16::try_from(parse_decimal(code)?).ok()
}

fn parse_decimal(digits: &[u8]) -> Option<usize> {
    parse_number(digits, 10)
}

fn parse_hex(digits: &[u8]) -> Option<usize> {
    parse_number(digits, 16)
}

fn parse_number(digits: &[u8], radix: u32) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        let d = (d as char).to_digit(radix)?;
        n.checked_mul(radix as usize)?.checked_add(d as usize)
    })
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn not_connected() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "not connected to the Runtime API",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// Serves one connection: reads requests until the client closes, answering
    /// each with the next canned response.
    fn serve(responses: Vec<&'static [u8]>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        thread::spawn(move || {
            for (response, stream) in responses.into_iter().zip(listener.incoming()) {
                let mut stream = stream.unwrap();
                let mut seen = Vec::new();
                let mut chunk = [0u8; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut chunk).unwrap();
                    seen.extend_from_slice(&chunk[..n]);
                }
                stream.write_all(response).unwrap();
            }
        });
        addr
    }

    fn get(client: &mut HttpClient) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut headers = Vec::new();
        let mut body = Vec::new();
        let request = Request {
            method: "GET",
            path: &["/x"],
            headers: &[],
            body: b"",
        };
        let status = client
            .send(
                &request,
                &mut |n, v| {
                    headers.push((
                        String::from_utf8_lossy(n).into_owned(),
                        String::from_utf8_lossy(v).into_owned(),
                    ))
                },
                &mut body,
            )
            .unwrap();
        (status, headers, body)
    }

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let addr = serve(vec![
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: abc\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n",
        ]);
        let mut client = HttpClient::new(&Endpoint::parse(&addr).unwrap());
        let (status, headers, body) = get(&mut client);
        assert_eq!((status, &body[..]), (200, &b"hello"[..]));
        assert!(headers.contains(&("Lambda-Runtime-Aws-Request-Id".into(), "abc".into())));
        let (_, _, body) = get(&mut client);
        assert_eq!(body, b"hello");
    }

    #[test]
    fn parses_status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 202 Accepted"), Some(202));
        assert_eq!(parse_status(b"HTTP/1.0 404"), Some(404));
        assert_eq!(parse_status(b"HTTP/2 200"), None);
    }
}
