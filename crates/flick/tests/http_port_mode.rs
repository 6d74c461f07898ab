//! Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) with `PORT` set, the same
//! binary serves plain HTTP on that port, with the request context and a
//! `Context` in the extensions. Needs feature `http`.
#![cfg(feature = "http")]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

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

#[test]
fn the_same_binary_serves_http_on_port() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _child = Killed(
        Command::new(example("example-http-axum", "example-http-axum"))
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let hello =
        eventually(Duration::from_secs(10), || get(port, "/hello")).expect("serves on PORT");
    assert!(hello.starts_with("HTTP/1.1 200"), "{hello}");
    assert!(hello.ends_with("hello"), "{hello}");

    let context = get(port, "/context").unwrap();
    assert!(context.contains(r#""source":"Direct""#), "{context}");
    assert!(context.contains(r#""sourceIp":"127.0.0.1""#), "{context}");

    let cookies = get(port, "/cookies").unwrap().to_ascii_lowercase();
    assert_eq!(cookies.matches("set-cookie:").count(), 2, "{cookies}");
}
