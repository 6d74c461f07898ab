//! Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) with `PORT` set, the same
//! binary serves plain HTTP on that port, with the request context and a
//! `Context` in the extensions. Needs feature `http`.
#![cfg(feature = "http")]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{eventually, example};

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The axum example on `port`, through `sh -c` when `limits` are given
/// (`ulimit ...; exec ...`), once it answers.
fn serve_on(port: u16, limits: Option<&str>) -> Killed {
    let program = example("example-http-axum", "example-http-axum");
    let mut command = match limits {
        Some(limits) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("{limits}; exec \"$0\"")])
                .arg(program);
            c
        }
        None => Command::new(program),
    };
    let child = command
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(10), || get(port, "/hello")).expect("serves on PORT");
    Killed(child)
}

/// CPU time (user + system) the process has used, in clock ticks.
fn cpu_ticks(child: &Child) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn the_same_binary_serves_http_on_port() {
    let port = free_port();
    let _child = serve_on(port, None);
    let hello = get(port, "/hello").expect("serves on PORT");
    assert!(hello.starts_with("HTTP/1.1 200"), "{hello}");
    assert!(hello.ends_with("hello"), "{hello}");

    let context = get(port, "/context").unwrap();
    assert!(context.contains(r#""source":"Direct""#), "{context}");
    assert!(context.contains(r#""sourceIp":"127.0.0.1""#), "{context}");

    let cookies = get(port, "/cookies").unwrap().to_ascii_lowercase();
    assert_eq!(cookies.matches("set-cookie:").count(), 2, "{cookies}");
}

#[test]
fn sigterm_runs_the_shutdown_hook_on_port_too() {
    let port = free_port();
    let mut child = serve_on(port, None);
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("http-axum: shutting down"), "{stderr}");
}

#[test]
fn a_body_over_six_megabytes_is_refused_with_413() {
    let port = free_port();
    let _child = serve_on(port, None);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let body = vec![b'x'; 7 * 1024 * 1024];
    write!(
        stream,
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // The server may answer before it has read all of it.
    let _ = stream.write_all(&body);
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    let small = get(port, "/hello").unwrap();
    assert!(
        small.starts_with("HTTP/1.1 200"),
        "it goes on serving: {small}"
    );
}

#[test]
fn running_out_of_descriptors_does_not_spin_the_accept_loop() {
    let port = free_port();
    let child = serve_on(port, Some("ulimit -n 32"));
    // Hold more connections than the server has descriptors left.
    let held: Vec<TcpStream> = (0..64)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    assert!(held.len() > 32, "the backlog takes them: {}", held.len());
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(&child.0);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(&child.0) - before;
    // A loop retrying accept at once burns the whole second (about 100 ticks).
    assert!(
        used < 30,
        "{used} ticks of CPU in one second with accept failing"
    );
    drop(held);
}
