//! A small but real Lambda Runtime API server (2018-06-01) for tests and the
//! benchmark: std `TcpListener`, one thread per connection, HTTP/1.1 with
//! keep-alive. Events are queued by the test and handed to `/next` long polls;
//! `/response`, `/error` and `/init/error` are recorded for the test to read.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An error the function reported.
#[derive(Debug, Clone)]
pub struct Reported {
    /// The `Lambda-Runtime-Function-Error-Type` header.
    pub error_type_header: Option<String>,
    /// The body, parsed as JSON (`Null` when it was not JSON).
    pub body: serde_json::Value,
}

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Response(Vec<u8>),
    Error(Reported),
}

impl Outcome {
    pub fn json(&self) -> serde_json::Value {
        match self {
            Outcome::Response(body) => serde_json::from_slice(body).expect("response is JSON"),
            Outcome::Error(e) => panic!("expected a response, got error {e:?}"),
        }
    }

    pub fn error(&self) -> &Reported {
        match self {
            Outcome::Error(e) => e,
            Outcome::Response(body) => {
                panic!("expected an error, got {}", String::from_utf8_lossy(body))
            }
        }
    }
}

struct Event {
    id: String,
    payload: Vec<u8>,
    headers: Vec<(String, String)>,
}

#[derive(Default)]
struct State {
    connections: usize,
    queue: VecDeque<Event>,
    in_flight: Vec<String>,
    outcomes: HashMap<String, Outcome>,
    init_error: Option<Reported>,
    /// The request headers of each `/response` or `/error` call, by id.
    answer_headers: HashMap<String, Vec<(String, String)>>,
    next_requests: Vec<Instant>,
    sequence: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// Close every connection after one response, as a server whose idle
    /// keep-alive timer fired would.
    close_after_response: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct RuntimeApiServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

/// Threads kept waiting in `accept`, so that starting a thread is never
/// between a function's connect and its first request being read (it would
/// add tens of microseconds to every measured startup).
const IDLE_ACCEPTORS: usize = 4;

struct Acceptors {
    listener: TcpListener,
    shared: Arc<Shared>,
    idle: AtomicUsize,
}

impl Acceptors {
    fn spawn(self: &Arc<Self>) {
        let acceptors = Arc::clone(self);
        thread::spawn(move || loop {
            acceptors.idle.fetch_add(1, Ordering::SeqCst);
            let accepted = acceptors.listener.accept();
            // The last idle acceptor replaces itself before serving.
            if acceptors.idle.fetch_sub(1, Ordering::SeqCst) == 1 {
                acceptors.spawn();
            }
            if let Ok((stream, _)) = accepted {
                serve_connection(stream, &acceptors.shared);
            }
        });
    }
}

/// How long a test waits for a function before calling it hung.
const PATIENCE: Duration = Duration::from_secs(20);

impl RuntimeApiServer {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A server that closes each connection after its response, without
    /// saying so in a header.
    pub fn start_closing_connections() -> Self {
        Self::start_with(true)
    }

    fn start_with(close_after_response: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            close_after_response,
        });
        let acceptors = Arc::new(Acceptors {
            listener,
            shared: Arc::clone(&shared),
            idle: AtomicUsize::new(0),
        });
        for _ in 0..IDLE_ACCEPTORS {
            acceptors.spawn();
        }
        Self { addr, shared }
    }

    /// `host:port` as `AWS_LAMBDA_RUNTIME_API` wants it.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event and returns its request id.
    pub fn send(&self, payload: &[u8]) -> String {
        self.send_with_headers(payload, &[])
    }

    /// Queues an event with extra `/next` headers (client context, ...).
    pub fn send_with_headers(&self, payload: &[u8], headers: &[(&str, &str)]) -> String {
        let mut state = self.shared.lock();
        state.sequence += 1;
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            std::process::id(),
            state.sequence
        );
        state.queue.push_back(Event {
            id: id.clone(),
            payload: payload.to_vec(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        self.shared.changed.notify_all();
        id
    }

    /// Waits for the outcome of request `id`.
    pub fn wait(&self, id: &str) -> Outcome {
        self.wait_for(id, PATIENCE)
            .unwrap_or_else(|| panic!("no outcome for {id} within {PATIENCE:?}"))
    }

    pub fn wait_for(&self, id: &str, limit: Duration) -> Option<Outcome> {
        let deadline = Instant::now() + limit;
        let mut state = self.shared.lock();
        loop {
            if let Some(outcome) = state.outcomes.remove(id) {
                return Some(outcome);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self.shared.changed.wait_timeout(state, left).unwrap().0;
        }
    }

    /// The headers the function sent with its answer to request `id`.
    pub fn answer_headers(&self, id: &str) -> Vec<(String, String)> {
        self.shared
            .lock()
            .answer_headers
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// Sends an event and waits for its outcome.
    pub fn invoke(&self, payload: &[u8]) -> Outcome {
        let id = self.send(payload);
        self.wait(&id)
    }

    /// Waits for an `/init/error`.
    pub fn wait_init_error(&self, limit: Duration) -> Option<Reported> {
        let deadline = Instant::now() + limit;
        let mut state = self.shared.lock();
        loop {
            if let Some(reported) = state.init_error.clone() {
                return Some(reported);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self.shared.changed.wait_timeout(state, left).unwrap().0;
        }
    }

    /// How many connections functions have opened so far.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// Waits until `count` `/next` requests have arrived; returns their times.
    pub fn wait_next_requests(&self, count: usize, limit: Duration) -> Option<Vec<Instant>> {
        let state = self.wait_for_next_count(count, limit)?;
        Some(state.next_requests.clone())
    }

    /// Waits until `count` `/next` requests have arrived, that is until the
    /// function is idle again after `count - 1` invocations.
    pub fn wait_idle(&self, count: usize, limit: Duration) -> bool {
        self.wait_for_next_count(count, limit).is_some()
    }

    fn wait_for_next_count(&self, count: usize, limit: Duration) -> Option<MutexGuard<'_, State>> {
        let deadline = Instant::now() + limit;
        let mut state = self.shared.lock();
        loop {
            if state.next_requests.len() >= count {
                return Some(state);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self.shared.changed.wait_timeout(state, left).unwrap().0;
        }
    }
}

/// A parsed request: method, path, headers, body.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Trailers of a chunked body (streamed responses).
    trailers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    shared.lock().connections += 1;
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let (status, headers, body) = route(&request, shared);
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (k, v) in &headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut message = head.into_bytes();
        message.extend_from_slice(&body);
        if writer.write_all(&message).is_err() || shared.close_after_response {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (k, v) = trimmed.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let mut trailers = Vec::new();
    let body = if chunked {
        read_chunked(reader, &mut trailers)?
    } else {
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        body
    };
    Some(Request {
        method,
        path,
        headers,
        body,
        trailers,
    })
}

/// A chunked body, and its trailers.
fn read_chunked(
    reader: &mut BufReader<TcpStream>,
    trailers: &mut Vec<(String, String)>,
) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
        if size == 0 {
            break;
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).ok()?;
        line.clear();
        reader.read_line(&mut line).ok()?;
    }
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            return Some(body);
        }
        let (k, v) = trimmed.split_once(':')?;
        trailers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn route(request: &Request, shared: &Shared) -> Answer {
    const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
    let accepted = (202, vec![], br#"{"status":"OK"}"#.to_vec());
    let path = request.path.as_str();
    match (request.method.as_str(), path) {
        ("GET", "/2018-06-01/runtime/invocation/next") => next(shared),
        ("POST", "/2018-06-01/runtime/init/error") => {
            shared.lock().init_error = Some(reported(request));
            shared.changed.notify_all();
            accepted
        }
        ("POST", _) if path.starts_with(INVOCATION) => {
            let rest = &path[INVOCATION.len()..];
            let Some((id, call)) = rest.split_once('/') else {
                return (404, vec![], b"{}".to_vec());
            };
            let outcome = match call {
                "response" => match streamed_error(request) {
                    Some(reported) => Outcome::Error(reported),
                    None => Outcome::Response(request.body.clone()),
                },
                "error" => Outcome::Error(reported(request)),
                _ => return (404, vec![], b"{}".to_vec()),
            };
            let mut state = shared.lock();
            state
                .answer_headers
                .insert(id.to_owned(), request.headers.clone());
            let Some(at) = state.in_flight.iter().position(|known| known == id) else {
                return (400, vec![], br#"{"errorType":"InvalidRequestID"}"#.to_vec());
            };
            state.in_flight.swap_remove(at);
            state.outcomes.insert(id.to_owned(), outcome);
            shared.changed.notify_all();
            accepted
        }
        _ => (404, vec![], b"{}".to_vec()),
    }
}

fn next(shared: &Shared) -> Answer {
    let mut state = shared.lock();
    state.next_requests.push(Instant::now());
    shared.changed.notify_all();
    let event = loop {
        if let Some(event) = state.queue.pop_front() {
            break event;
        }
        state = shared
            .changed
            .wait(state)
            .unwrap_or_else(|e| e.into_inner());
    };
    state.in_flight.push(event.id.clone());
    drop(state);
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(30);
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("Lambda-Runtime-Aws-Request-Id".to_owned(), event.id),
        (
            "Lambda-Runtime-Deadline-Ms".to_owned(),
            deadline.as_millis().to_string(),
        ),
        (
            "Lambda-Runtime-Invoked-Function-Arn".to_owned(),
            "arn:aws:lambda:us-east-1:123456789012:function:test-function".to_owned(),
        ),
        (
            "Lambda-Runtime-Trace-Id".to_owned(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
        ),
    ];
    headers.extend(event.headers);
    (200, headers, event.payload)
}

/// The error in a streamed response's trailers, if it failed midway.
fn streamed_error(request: &Request) -> Option<Reported> {
    use base64::Engine;
    let trailer = |name: &str| {
        request
            .trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let error_type = trailer("Lambda-Runtime-Function-Error-Type")?;
    let body = trailer("Lambda-Runtime-Function-Error-Body")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    Some(Reported {
        error_type_header: Some(error_type),
        body,
    })
}

fn reported(request: &Request) -> Reported {
    Reported {
        error_type_header: request
            .header("Lambda-Runtime-Function-Error-Type")
            .map(str::to_owned),
        body: serde_json::from_slice(&request.body).unwrap_or(serde_json::Value::Null),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        _ => "Not Found",
    }
}
