//! `flick package`: the AWS SAM template of a manifest, so that the
//! functions that run here deploy as they are: each function with its
//! runtime, handler, memory, timeout, `/tmp`, environment and layers,
//! pointing at the zip `flick build` made; its HTTP routes as `HttpApi`
//! events; its `[async]` table as `EventInvokeConfig`. The template is
//! written as JSON, which is YAML too, to `template.yaml` beside the
//! manifest. What SAM cannot say is refused, naming the key; what only
//! matters to a local host (`prepared`, `idle_s`, `network`, `max_queued`)
//! is left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flick_host::manifest::{Artifact, AsyncConfig, FunctionConfig, Manifest};
use serde_json::{json, Map, Value};

#[derive(clap::Args)]
pub struct PackageArgs {
    /// The functions to put in the template (default: every one with an
    /// `artifact` table).
    names: Vec<String>,
    /// The manifest.
    #[arg(long, default_value = "flick.toml")]
    config: PathBuf,
    /// Where to write the template (default: template.yaml beside the manifest).
    #[arg(long)]
    output: Option<PathBuf>,
}

pub fn run(args: PackageArgs) -> ExitCode {
    let manifest = match crate::load_manifest(&args.config) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let output = args
        .output
        .unwrap_or_else(|| manifest.root.join("template.yaml"));
    let template = crate::build::choose(&manifest, &args.names).and_then(|chosen| {
        let base = output.parent().unwrap_or(Path::new("."));
        template(&manifest, &chosen, base)
    });
    let template = match template {
        Ok(t) => t,
        Err(e) => {
            eprintln!("flick package: {e}");
            return ExitCode::from(2);
        }
    };
    let text = serde_json::to_string_pretty(&template).unwrap_or_default() + "\n";
    if let Err(e) = std::fs::write(&output, text) {
        eprintln!("flick package: cannot write {}: {e}", output.display());
        return ExitCode::FAILURE;
    }
    println!("{}", output.display());
    ExitCode::SUCCESS
}

fn template(
    manifest: &Manifest,
    chosen: &[(&FunctionConfig, &Artifact)],
    base: &Path,
) -> Result<Value, String> {
    let zips = crate::build::target_dir(&manifest.root).join("flick");
    let names: BTreeMap<&str, String> = chosen
        .iter()
        .map(|(f, _)| (f.name.as_str(), logical_id(&f.name, "Function")))
        .collect();
    let mut resources = Map::new();
    let mut layers = BTreeMap::new();
    for (function, artifact) in chosen {
        let mut properties = function_properties(function, artifact, &zips, base)?;
        let layer_refs: Vec<Value> = function
            .layers
            .iter()
            .map(|path| {
                // Numbered: two layers may share a folder name.
                let next = layers.len() + 1;
                let id = layers
                    .entry(path.clone())
                    .or_insert_with(|| format!("{}{next}", logical_id(&layer_name(path), "Layer")))
                    .clone();
                json!({"Ref": id})
            })
            .collect();
        if !layer_refs.is_empty() {
            properties.insert("Layers".into(), Value::Array(layer_refs));
        }
        if let Some(events) = http_events(function) {
            properties.insert("Events".into(), events);
        }
        if function.async_declared {
            properties.insert("EventInvokeConfig".into(), invoke_config(function, &names)?);
        }
        resources.insert(
            names[function.name.as_str()].clone(),
            json!({"Type": "AWS::Serverless::Function", "Properties": properties}),
        );
    }
    for (path, id) in layers {
        resources.insert(
            id.clone(),
            json!({"Type": "AWS::Serverless::LayerVersion",
                   "Properties": {"LayerName": id, "ContentUri": relative(&path, base)}}),
        );
    }
    Ok(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": "Written by flick package from the Flick manifest",
        "Resources": resources,
    }))
}

/// A layer's id comes from its folder's (or zip's) name.
fn layer_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `echo-official` → `EchoOfficialFunction`: CloudFormation ids are
/// alphanumeric.
fn logical_id(name: &str, kind: &str) -> String {
    let mut id: String = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    id.push_str(kind);
    id
}

fn function_properties(
    f: &FunctionConfig,
    artifact: &Artifact,
    zips: &Path,
    base: &Path,
) -> Result<Map<String, Value>, String> {
    refuse_local_only(f)?;
    let (runtime, handler) = runtime_and_handler(f, artifact)?;
    let mut p = Map::new();
    p.insert("FunctionName".into(), json!(f.name));
    p.insert(
        "CodeUri".into(),
        json!(relative(&zips.join(format!("{}.zip", f.name)), base)),
    );
    p.insert("Runtime".into(), json!(runtime));
    p.insert("Handler".into(), json!(handler));
    p.insert("Architectures".into(), json!(["x86_64"]));
    p.insert("MemorySize".into(), json!(f.memory_mb));
    p.insert("Timeout".into(), json!(f.timeout_s));
    p.insert(
        "EphemeralStorage".into(),
        json!({"Size": f.ephemeral_storage_mb}),
    );
    if !f.env.is_empty() {
        p.insert("Environment".into(), json!({"Variables": f.env}));
    }
    if f.provisioned > 0 {
        p.insert("AutoPublishAlias".into(), json!("live"));
        p.insert(
            "ProvisionedConcurrencyConfig".into(),
            json!({"ProvisionedConcurrentExecutions": f.provisioned}),
        );
    }
    Ok(p)
}

/// Settings with no SAM property: the manifest cannot deploy as it is.
fn refuse_local_only(f: &FunctionConfig) -> Result<(), String> {
    let key = |k: &str| format!("functions.{}.{k}", f.name);
    if f.per_sandbox_concurrency > 1 {
        return Err(format!(
            "{}: several invocations per execution environment has no SAM property (Lambda Managed Instances)",
            key("per_sandbox_concurrency")
        ));
    }
    if f.per_tenant {
        return Err(format!(
            "{}: per-tenant isolation has no SAM property yet",
            key("tenancy")
        ));
    }
    if f.async_config.retry_delays_s != AsyncConfig::default().retry_delays_s {
        return Err(format!(
            "{}: Lambda chooses its own delays between retries",
            key("async.retry_delays_s")
        ));
    }
    Ok(())
}

fn runtime_and_handler(
    f: &FunctionConfig,
    artifact: &Artifact,
) -> Result<(String, String), String> {
    let handler = || {
        f.handler.clone().ok_or_else(|| {
            format!(
                "functions.{}.handler is missing: Lambda's managed runtimes need one",
                f.name
            )
        })
    };
    Ok(match artifact {
        Artifact::Rust { .. } | Artifact::Go { .. } => (
            f.runtime
                .clone()
                .unwrap_or_else(|| "provided.al2023".into()),
            f.handler.clone().unwrap_or_else(|| "bootstrap".into()),
        ),
        Artifact::Python { .. } => (
            f.runtime.clone().unwrap_or_else(|| "python3.12".into()),
            handler()?,
        ),
        Artifact::Node { .. } => (
            f.runtime.clone().unwrap_or_else(|| "nodejs22.x".into()),
            handler()?,
        ),
    })
}

/// The function's routes as `HttpApi` events of the template's implicit API.
fn http_events(f: &FunctionConfig) -> Option<Value> {
    let http = f.http.as_ref()?;
    let payload = match http.payload {
        flick_host::gateway::config::PayloadVersion::V1 => "1.0",
        flick_host::gateway::config::PayloadVersion::V2 => "2.0",
    };
    let mut events = Map::new();
    for (i, route) in http.routes.iter().enumerate() {
        let mut properties = json!({"PayloadFormatVersion": payload});
        // `$default` is the HttpApi event without a path or method.
        if let Some((method, path)) = route.as_str().split_once(' ') {
            properties["Method"] = json!(method.to_ascii_lowercase());
            properties["Path"] = json!(path);
        }
        events.insert(
            format!("Http{}", i + 1),
            json!({"Type": "HttpApi", "Properties": properties}),
        );
    }
    Some(Value::Object(events))
}

fn invoke_config(f: &FunctionConfig, ids: &BTreeMap<&str, String>) -> Result<Value, String> {
    let a = &f.async_config;
    let destination = |target: &Option<String>, key: &str| -> Result<Option<Value>, String> {
        let Some(target) = target else {
            return Ok(None);
        };
        let id = ids.get(target.as_str()).ok_or_else(|| {
            format!(
                "functions.{}.async.{key}: {target} is not in the template (give it an artifact table)",
                f.name
            )
        })?;
        Ok(Some(
            json!({"Type": "Lambda", "Destination": {"Fn::GetAtt": [id, "Arn"]}}),
        ))
    };
    let mut config = json!({
        "MaximumRetryAttempts": a.max_retry_attempts,
        "MaximumEventAgeInSeconds": a.max_event_age_s,
    });
    let mut destinations = Map::new();
    if let Some(d) = destination(&a.on_success, "on_success")? {
        destinations.insert("OnSuccess".into(), d);
    }
    if let Some(d) = destination(&a.on_failure, "on_failure")? {
        destinations.insert("OnFailure".into(), d);
    }
    if !destinations.is_empty() {
        config["DestinationConfig"] = Value::Object(destinations);
    }
    Ok(config)
}

/// `path` relative to the template's folder, as SAM resolves it.
fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_alphanumeric() {
        assert_eq!(
            logical_id("echo-official", "Function"),
            "EchoOfficialFunction"
        );
        assert_eq!(logical_id("my_fn2", "Function"), "MyFn2Function");
    }
}
