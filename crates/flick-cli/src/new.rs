//! `flick new NAME --template T`: a new function from a template, in the
//! folder `NAME/` beside the manifest, added to the manifest (made if
//! missing) with its build command, so that `flick serve` builds it and
//! `flick invoke NAME` answers at once, and with its `artifact` table, so
//! that `flick build` and `flick package` take it to Lambda. Never
//! overwrites: an existing folder or function of that name is refused.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flick_host::manifest::Manifest;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Template {
    /// A typed event handler with the Flick SDK.
    Rust,
    /// An axum router behind the HTTP gateway, with `flick::http`.
    RustHttp,
    /// A handler run by the official Python runtime client (awslambdaric).
    Python,
    /// A handler run by the official Node.js runtime client (aws-lambda-ric).
    Node,
    /// A handler with the official aws-lambda-go.
    Go,
}

#[derive(clap::Args)]
pub struct NewArgs {
    /// The function's name (letters, digits, `-` and `_`; a letter first).
    name: String,
    #[arg(long, short, value_enum)]
    template: Template,
    /// The manifest to add it to (made if missing).
    #[arg(long, default_value = "flick.toml")]
    config: PathBuf,
}

/// The Python a template's environment is made with: the system's, where
/// there is one, since a sandbox's user may not read a Python installed in
/// someone's home (pyenv's under /root, say).
const PYTHON: &str = "$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3 )";

/// The SDK this binary was built beside, which a Rust template depends on.
const SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../flick");

pub fn run(args: NewArgs) -> ExitCode {
    match create(&args) {
        Ok(()) => {
            let config = args.config.display();
            println!(
                "created {} from the {} template",
                args.name,
                label(args.template)
            );
            println!("  flick serve --config {config}      # builds it, then serves it");
            println!("  flick invoke {} --data '{{\"name\":\"you\"}}'", args.name);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flick new: {e}");
            ExitCode::from(2)
        }
    }
}

fn create(args: &NewArgs) -> Result<(), String> {
    let name = &args.name;
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "{name}: a function name is letters, digits, - and _, a letter first, at most 64"
        ));
    }
    let root = args
        .config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = root.join(name);
    if dir.exists() {
        return Err(format!(
            "{} already exists: flick new never overwrites",
            dir.display()
        ));
    }
    if args.config.exists() {
        let manifest = Manifest::load(&args.config).map_err(|e| e.to_string())?;
        if manifest.functions.contains_key(name) {
            return Err(format!(
                "{} already has a function {name}: flick new never overwrites",
                args.config.display()
            ));
        }
    }
    for (path, text) in files(args.template) {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, fill(text, name))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    add_to_manifest(&args.config, &entry(args.template, name))
}

fn label(t: Template) -> &'static str {
    match t {
        Template::Rust => "rust",
        Template::RustHttp => "rust-http",
        Template::Python => "python",
        Template::Node => "node",
        Template::Go => "go",
    }
}

/// The template's files: (path in the new folder, text).
fn files(t: Template) -> &'static [(&'static str, &'static str)] {
    match t {
        Template::Rust => &[
            ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
            ("src/main.rs", include_str!("../templates/rust/src/main.rs")),
        ],
        Template::RustHttp => &[
            (
                "Cargo.toml",
                include_str!("../templates/rust-http/Cargo.toml"),
            ),
            (
                "src/main.rs",
                include_str!("../templates/rust-http/src/main.rs"),
            ),
        ],
        Template::Python => &[
            ("app.py", include_str!("../templates/python/app.py")),
            (
                "requirements.txt",
                include_str!("../templates/python/requirements.txt"),
            ),
        ],
        Template::Node => &[
            ("index.mjs", include_str!("../templates/node/index.mjs")),
            (
                "package.json",
                include_str!("../templates/node/package.json"),
            ),
        ],
        Template::Go => &[
            ("main.go", include_str!("../templates/go/main.go")),
            ("go.mod", include_str!("../templates/go/go.mod")),
            ("go.sum", include_str!("../templates/go/go.sum")),
        ],
    }
}

fn fill(text: &str, name: &str) -> String {
    let sdk = std::fs::canonicalize(SDK)
        .map(|p| format!("path = \"{}\"", p.display()))
        .unwrap_or_else(|_| "version = \"0.1\"".into());
    text.replace("{{name}}", name).replace("{{flick}}", &sdk)
}

/// The manifest's table for the function: how to run it, how `flick
/// serve` builds it, and what `flick build` makes of it.
fn entry(t: Template, name: &str) -> String {
    let rust = |extra: &str| {
        format!(
            "[functions.{name}]\ncommand = [\"{name}/target/release/{name}\"]\nworkdir = \"{name}\"\n\
             build = \"cargo build --release --manifest-path {name}/Cargo.toml --target-dir {name}/target\"\n\n\
             [functions.{name}.artifact]\nrust = \"{name}\"\n{extra}"
        )
    };
    match t {
        Template::Rust => rust(""),
        Template::RustHttp => rust(&format!(
            "\n[functions.{name}.http]\nroutes = [\"GET /hello/{{name}}\"]\npayload = \"2.0\"\n"
        )),
        Template::Python => format!(
            "[functions.{name}]\ncommand = [\"{name}/.venv/bin/python3\", \"-m\", \"awslambdaric\", \"app.handler\"]\n\
             workdir = \"{name}\"\nhandler = \"app.handler\"\nruntime = \"python3.12\"\n\
             build = \"test -d {name}/.venv || {PYTHON} -m venv {name}/.venv; {name}/.venv/bin/pip install -q -r {name}/requirements.txt\"\n\n\
             [functions.{name}.artifact]\npython = \"{name}\"\n"
        ),
        Template::Node => format!(
            "[functions.{name}]\ncommand = [\"node\", \"node_modules/aws-lambda-ric/bin/index.mjs\", \"index.handler\"]\n\
             workdir = \"{name}\"\nhandler = \"index.handler\"\nruntime = \"nodejs22.x\"\n\
             build = \"npm install --prefix {name} --no-audit --no-fund --silent\"\n\n\
             [functions.{name}.artifact]\nnode = \"{name}\"\n"
        ),
        Template::Go => format!(
            "[functions.{name}]\ncommand = [\"{name}/bootstrap\"]\nworkdir = \"{name}\"\n\
             build = \"cd {name} && CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap .\"\n\n\
             [functions.{name}.artifact]\ngo = \"{name}\"\n"
        ),
    }
}

fn add_to_manifest(config: &Path, entry: &str) -> Result<(), String> {
    let mut text = match std::fs::read_to_string(config) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "[server]\nlisten = \"127.0.0.1:9000\"\nstate_dir = \".flick\"\n".to_string()
        }
        Err(e) => return Err(format!("cannot read {}: {e}", config.display())),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(entry);
    std::fs::write(config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))
}
