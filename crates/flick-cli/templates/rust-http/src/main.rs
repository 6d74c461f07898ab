//! {{name}}: an HTTP API on Lambda, an axum router behind Flick's gateway
//! (or API Gateway, ALB, a function URL). `curl http://127.0.0.1:9000/hello/you`
//! answers `hello, you`.

use axum::extract::Path;
use axum::routing::get;
use axum::Router;

async fn hello(Path(name): Path<String>) -> String {
    format!("hello, {name}")
}

fn app() -> Router {
    Router::new().route("/hello/{name}", get(hello))
}

fn main() {
    flick::http::run(app())
}
