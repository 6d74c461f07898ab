//! `flick openapi NAME`: print a function's OpenAPI document.
//!
//! The document lives in the function binary (built by `flick::http::openapi`
//! from its typed routes), so this runs the manifest's command for NAME, in
//! its workdir with its environment, plus `FLICK_PRINT_OPENAPI=1`, which
//! makes the function print the document and exit instead of serving. No
//! Runtime API is given: nothing is invoked. Functions not built with
//! `flick::http::openapi` exit non-zero with a message saying so.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use clap::Args;

#[derive(Args)]
pub struct OpenApiArgs {
    /// The manifest.
    #[arg(long, default_value = "flick.toml")]
    config: PathBuf,
    /// The function whose document to print.
    name: String,
}

pub fn run(args: OpenApiArgs) -> ExitCode {
    let manifest = match crate::load_manifest(&args.config) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let Some(function) = manifest.functions.get(&args.name) else {
        let known: Vec<&str> = manifest.functions.keys().map(String::as_str).collect();
        eprintln!(
            "flick: no function `{}` in {} (it has: {})",
            args.name,
            args.config.display(),
            known.join(", ")
        );
        return ExitCode::from(2);
    };
    let output = Command::new(&function.command[0])
        .args(&function.command[1..])
        .current_dir(&function.workdir)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("PORT")
        .envs(&function.env)
        .env("AWS_LAMBDA_FUNCTION_NAME", &function.name)
        .env("FLICK_PRINT_OPENAPI", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output();
    match output {
        Ok(out) if out.status.success() => {
            print!("{}", String::from_utf8_lossy(&out.stdout));
            ExitCode::SUCCESS
        }
        Ok(out) => {
            eprintln!(
                "flick: `{}` did not print an OpenAPI document ({})",
                function.command[0], out.status
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("flick: cannot run `{}`: {e}", function.command[0]);
            ExitCode::FAILURE
        }
    }
}
