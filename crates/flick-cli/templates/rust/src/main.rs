//! {{name}}: a Lambda function written with Flick. `flick invoke {{name}}
//! --data '{"name":"you"}'` answers `{"message":"hello, you"}`.

use flick::{Context, Error};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Request {
    name: Option<String>,
}

#[derive(Serialize)]
struct Response {
    message: String,
}

async fn handle(request: Request, _: Context) -> Result<Response, Error> {
    let name = request.name.unwrap_or_else(|| "world".into());
    Ok(Response {
        message: format!("hello, {name}"),
    })
}

fn main() {
    flick::run(handle)
}
