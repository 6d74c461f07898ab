//! A function as the host knows it at run time: its manifest entry plus the
//! names Lambda derives from it (ARN, log group) and the external
//! extensions its layers carry.
//!
//! Owns naming only; how the function runs is the scheduler's and the
//! sandbox's business.

use std::sync::Arc;

use crate::manifest::FunctionConfig;

/// The account id in every ARN the host makes. Lambda needs one; there is no
/// account here, and twelve zeros is what local AWS tools conventionally use.
pub const ACCOUNT_ID: &str = "000000000000";

#[derive(Debug)]
pub struct Function {
    pub config: FunctionConfig,
    /// Shared with every log line, so it is reference counted.
    pub name: Arc<str>,
    pub region: String,
    pub arn: String,
    /// The files of `/opt/extensions`, started with each sandbox.
    pub extensions: Vec<String>,
}

impl Function {
    pub fn new(config: FunctionConfig, region: &str) -> Function {
        Function {
            name: Arc::from(config.name.as_str()),
            arn: function_arn(region, &config.name),
            region: region.to_string(),
            extensions: crate::layers::extensions(&config.layers),
            config,
        }
    }

    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.name)
    }

    /// The Lambda runtime identifier: the manifest's, else what the program
    /// tells (`python3.11` from its name; a program that is no known
    /// interpreter is a custom runtime, `provided.al2023`), else unknown.
    pub fn runtime(&self) -> Option<String> {
        if let Some(runtime) = &self.config.runtime {
            return Some(runtime.clone());
        }
        let program = std::path::Path::new(&self.config.command[0])
            .file_name()?
            .to_string_lossy()
            .into_owned();
        let versioned_python = program
            .strip_prefix("python3.")
            .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()));
        if versioned_python {
            return Some(program);
        }
        let interpreter = ["python", "node", "java", "ruby", "dotnet", "bun", "deno"]
            .iter()
            .any(|i| program.starts_with(i));
        (!interpreter).then(|| "provided.al2023".to_string())
    }
}

/// Who made a request to the host's APIs, when it was a function: the
/// function whose sandbox it came from (its private network's copy of the
/// API says so) or whose key signed it. A request without it is the host's
/// operator's. What a function may do with the API is limited by this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub Arc<str>);

pub fn function_arn(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}")
}
