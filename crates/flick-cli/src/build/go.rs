//! A Go function as Lambda wants it: static (`CGO_ENABLED=0`), without the
//! RPC mode the `provided` runtimes do not use (`-tags lambda.norpc`),
//! without symbols or debug data (`-ldflags "-s -w"`), reproducible
//! (`-trimpath`), for Linux x86-64, named `bootstrap`.

use std::path::Path;
use std::process::Command;

use super::{run_step, Built};

pub fn build(dir: &Path, out: &Path) -> Result<Built, String> {
    let bootstrap = out.join("bootstrap");
    run_step(
        Command::new("go")
            .current_dir(dir)
            .env("CGO_ENABLED", "0")
            .env("GOOS", "linux")
            .env("GOARCH", "amd64")
            .args([
                "build",
                "-tags",
                "lambda.norpc",
                "-trimpath",
                "-ldflags",
                "-s -w",
                "-o",
            ])
            .arg(&bootstrap)
            .arg("."),
    )?;
    Ok(Built {
        binary: Some(bootstrap),
        // The symbols are gone (-s -w): nothing can say what takes the room.
        contributors: Vec::new(),
    })
}
