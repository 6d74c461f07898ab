//! The environment a runtime process starts with.
//!
//! Exactly the variables of Lambda's contract plus the function's own, and
//! nothing inherited from the host except `PATH` (so that `python3` or `node`
//! resolve as they do in the user's shell). Owns the list; does not spawn.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::function::Function;

/// How a sandbox came to be, as `AWS_LAMBDA_INITIALIZATION_TYPE` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitType {
    OnDemand,
    Provisioned,
}

impl InitType {
    pub fn as_str(self) -> &'static str {
        match self {
            InitType::OnDemand => "on-demand",
            InitType::Provisioned => "provisioned-concurrency",
        }
    }
}

/// Lambda's own default PATH, used when the host has none.
const LAMBDA_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";

pub fn lambda_env(
    function: &Function,
    runtime_api: SocketAddr,
    log_stream: &str,
    init_type: InitType,
) -> BTreeMap<String, String> {
    let c = &function.config;
    let workdir = c.workdir.to_string_lossy().into_owned();
    let mut env: BTreeMap<String, String> = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", c.name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", c.memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", function.log_group()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream.to_string()),
        (
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            init_type.as_str().to_string(),
        ),
        ("AWS_REGION", function.region.clone()),
        ("AWS_DEFAULT_REGION", function.region.clone()),
        ("LAMBDA_TASK_ROOT", workdir.clone()),
        ("LAMBDA_RUNTIME_DIR", workdir),
        ("TZ", ":UTC".to_string()),
        ("LANG", "en_US.UTF-8".to_string()),
        (
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| LAMBDA_PATH.to_string()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(handler) = &c.handler {
        env.insert("_HANDLER".into(), handler.clone());
    }
    if c.per_sandbox_concurrency > 1 {
        env.insert(
            "AWS_LAMBDA_MAX_CONCURRENCY".into(),
            c.per_sandbox_concurrency.to_string(),
        );
    }
    if !c.layers.is_empty() {
        layer_paths(&mut env, c.runtime.as_deref());
    }
    // The function's own variables come last so they can override (as Lambda
    // allows for everything but its reserved names).
    env.extend(c.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// What an AWS SDK needs to call the host's Lambda API: the endpoint
/// (`AWS_ENDPOINT_URL_LAMBDA`, which botocore and the other SDKs read) and
/// the function's own credentials, where Lambda gives the function's role
/// ones. Unless the function sets its own.
pub fn aws_api(env: &mut BTreeMap<String, String>, api: &super::AwsApi, function: &str) {
    let Some((key_id, secret)) = api.keys.get(function) else {
        return;
    };
    let vars = [
        ("AWS_ENDPOINT_URL_LAMBDA", &api.endpoint),
        ("AWS_ACCESS_KEY_ID", key_id),
        ("AWS_SECRET_ACCESS_KEY", secret),
    ];
    for (key, value) in vars {
        env.entry(key.to_string()).or_insert_with(|| value.clone());
    }
}

/// Where programs look into `/opt`, as on Lambda: `/opt/bin` and `/opt/lib`
/// for every runtime; `/opt/python` and `/opt/nodejs` where the manifest
/// names a managed runtime, whose bootstrap adds them on Lambda.
fn layer_paths(env: &mut BTreeMap<String, String>, runtime: Option<&str>) {
    let path = env.entry("PATH".into()).or_default();
    if !path.split(':').any(|p| p == "/opt/bin") {
        path.push_str(":/opt/bin");
    }
    env.insert("LD_LIBRARY_PATH".into(), "/opt/lib".into());
    let runtime = runtime.unwrap_or_default();
    if runtime.starts_with("python3.") {
        env.insert(
            "PYTHONPATH".into(),
            format!("/opt/python/lib/{runtime}/site-packages:/opt/python"),
        );
    }
    if let Some(version) = runtime
        .strip_prefix("nodejs")
        .and_then(|v| v.strip_suffix(".x"))
    {
        env.insert(
            "NODE_PATH".into(),
            format!("/opt/nodejs/node{version}/node_modules:/opt/nodejs/node_modules"),
        );
    }
}

/// What an extension gets: the runtime's environment without what Lambda
/// keeps to the runtime (anything starting with `_`, the log names, the
/// task and runtime folders, X-Ray's settings).
pub fn extension_env(runtime: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    const RUNTIME_ONLY: [&str; 7] = [
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
    ];
    runtime
        .iter()
        .filter(|(k, _)| !k.starts_with('_') && !RUNTIME_ONLY.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;
    use std::path::Path;

    #[test]
    fn contract_variables_and_own_ones() {
        let m = Manifest::parse(
            "[functions.echo]\ncommand=[\"x\"]\nhandler=\"app.h\"\nenv={GREETING=\"hi\"}\nmemory_mb=256\n",
            Path::new("flick.toml"),
            Path::new("/app"),
        )
        .unwrap();
        let f = Function::new(m.functions["echo"].clone(), "eu-west-1");
        let env = lambda_env(
            &f,
            "127.0.0.1:5000".parse().unwrap(),
            "s",
            InitType::Provisioned,
        );
        assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:5000");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
        assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/echo");
        assert_eq!(
            env["AWS_LAMBDA_INITIALIZATION_TYPE"],
            "provisioned-concurrency"
        );
        assert_eq!(env["AWS_REGION"], "eu-west-1");
        assert_eq!(env["_HANDLER"], "app.h");
        assert_eq!(env["GREETING"], "hi");
        assert_eq!(env["LAMBDA_TASK_ROOT"], "/app");
        assert!(!env.contains_key("AWS_LAMBDA_MAX_CONCURRENCY"));
        assert!(!env.contains_key("HOME"));
    }
}

#[cfg(test)]
mod layer_tests {
    use super::*;
    use crate::manifest::Manifest;
    use std::path::Path;

    fn env_of(extra: &str) -> BTreeMap<String, String> {
        let text = format!("[functions.f]\ncommand=[\"x\"]\nlayers=[\"l1\"]\n{extra}");
        let m = Manifest::parse(&text, Path::new("flick.toml"), Path::new("/app")).unwrap();
        let f = Function::new(m.functions["f"].clone(), "us-east-1");
        lambda_env(
            &f,
            "127.0.0.1:9001".parse().unwrap(),
            "s",
            InitType::OnDemand,
        )
    }

    #[test]
    fn layers_put_opt_on_the_paths_of_the_runtime_named() {
        let env = env_of("runtime = \"python3.12\"\n");
        assert!(env["PATH"].ends_with(":/opt/bin"), "{}", env["PATH"]);
        assert_eq!(env["LD_LIBRARY_PATH"], "/opt/lib");
        assert_eq!(
            env["PYTHONPATH"],
            "/opt/python/lib/python3.12/site-packages:/opt/python"
        );
        assert!(!env.contains_key("NODE_PATH"));
        let env = env_of("runtime = \"nodejs22.x\"\n");
        assert_eq!(
            env["NODE_PATH"],
            "/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules"
        );
        let env = env_of("env = { PYTHONPATH = \"/mine\" }\nruntime = \"python3.12\"\n");
        assert_eq!(env["PYTHONPATH"], "/mine", "the function's own value wins");
    }

    #[test]
    fn extensions_do_not_get_what_lambda_keeps_to_the_runtime() {
        let mut env = env_of("handler = \"app.h\"\nenv = { SECRET_NAME = \"s\" }\n");
        env.insert("_LAMBDA_TELEMETRY_LOG_FD".into(), "3".into());
        let ext = extension_env(&env);
        for gone in [
            "_HANDLER",
            "_LAMBDA_TELEMETRY_LOG_FD",
            "LAMBDA_TASK_ROOT",
            "AWS_LAMBDA_LOG_STREAM_NAME",
        ] {
            assert!(!ext.contains_key(gone), "{gone}");
        }
        for kept in [
            "AWS_LAMBDA_RUNTIME_API",
            "AWS_REGION",
            "SECRET_NAME",
            "AWS_LAMBDA_FUNCTION_NAME",
        ] {
            assert!(ext.contains_key(kept), "{kept}");
        }
    }
}
