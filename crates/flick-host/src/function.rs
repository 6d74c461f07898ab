//! A function as the host knows it at run time: its manifest entry plus the
//! names Lambda derives from it (ARN, log group).
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
}

impl Function {
    pub fn new(config: FunctionConfig, region: &str) -> Function {
        Function {
            name: Arc::from(config.name.as_str()),
            arn: function_arn(region, &config.name),
            region: region.to_string(),
            config,
        }
    }

    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.name)
    }
}

pub fn function_arn(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}")
}
