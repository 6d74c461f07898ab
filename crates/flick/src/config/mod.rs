//! Typed configuration: a `#[derive(Deserialize)]` struct read from environment
//! variables, field `table_name` from `TABLE_NAME`.
//!
//! Values are parsed for the field's type (numbers, booleans, enums by variant
//! name, `Option` for optional variables, `Vec` from comma-separated lists,
//! `#[serde(default)]` honoured). Every missing or invalid variable is reported
//! together: serde stops at the first error, so the struct is read again with a
//! stand-in value for each variable already found wrong, until no new problem
//! turns up. This module owns that loop and [`ConfigError`]; the struct's
//! fields are walked in `env_struct`, one variable is parsed in `env_value`,
//! and the stand-ins come from `stand_in`. When config is loaded (at init,
//! never per request) is `init`'s business.

mod env_struct;
mod env_value;
mod stand_in;

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned};

use env_struct::EnvStruct;

/// Reads `C` from the process environment.
pub fn from_env<C: DeserializeOwned>() -> Result<C, ConfigError> {
    from_lookup(|name| std::env::var(name).ok())
}

/// Reads `C` from variables given by `get` (for tests and other sources).
pub fn from_lookup<C: DeserializeOwned>(
    get: impl Fn(&str) -> Option<String>,
) -> Result<C, ConfigError> {
    let mut stand_ins: Vec<&'static str> = Vec::new();
    // Problems that ended a pass; a later pass cannot see them again.
    let mut reported: Vec<String> = Vec::new();
    loop {
        let pass = Pass {
            get: &get,
            stand_ins: &stand_ins,
            invalid: RefCell::new(Vec::new()),
            current: RefCell::new(None),
        };
        let result = C::deserialize(EnvStruct { pass: &pass });
        let invalid = pass.invalid.into_inner();
        // The first error ends a pass; if it names a variable not seen before,
        // give that variable a stand-in and read again to find the rest.
        let next_stand_in = match (result, pass.current.into_inner()) {
            (Ok(config), _) if reported.is_empty() && invalid.is_empty() => return Ok(config),
            (Ok(_), _) => None,
            (Err(Failure::Missing(field)), _) => {
                reported.push(format!("{} is not set", variable(field)));
                Some(field)
            }
            (Err(Failure::Other(message)), Some((field, false))) => {
                reported.push(format!("{}: {message}", variable(field)));
                Some(field)
            }
            // The stand-in itself was refused: that variable is already
            // reported, and the type cannot be read further without it.
            (Err(Failure::Other(_)), Some((_, true))) => None,
            (Err(Failure::Other(message)), None) => {
                reported.push(message);
                None
            }
        };
        match next_stand_in {
            Some(field) if !stand_ins.contains(&field) => stand_ins.push(field),
            _ => {
                let problems = reported
                    .into_iter()
                    .chain(invalid.iter().map(ToString::to_string))
                    .collect();
                return Err(ConfigError { problems });
            }
        }
    }
}

/// The environment variable a field is read from.
pub(super) fn variable(field: &str) -> String {
    field.to_ascii_uppercase()
}

/// Every configuration problem found, one per variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<String>,
}

impl ConfigError {
    /// One sentence per missing or invalid variable.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.problems.join("; "))
    }
}

impl std::error::Error for ConfigError {}

/// One reading of the struct.
pub(super) struct Pass<'a> {
    pub(super) get: &'a dyn Fn(&str) -> Option<String>,
    pub(super) stand_ins: &'a [&'static str],
    /// Values that did not parse; a stand-in was used so the pass went on.
    pub(super) invalid: RefCell<Vec<Invalid>>,
    /// The field being read and whether it got a stand-in.
    pub(super) current: RefCell<Option<(&'static str, bool)>>,
}

pub(super) struct Invalid {
    pub(super) variable: String,
    pub(super) expected: &'static str,
    pub(super) reason: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} must be {}: {}",
            self.variable, self.expected, self.reason
        )
    }
}

/// Why a pass stopped.
#[derive(Debug)]
pub(super) enum Failure {
    Missing(&'static str),
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Missing(field) => write!(f, "{} is not set", variable(field)),
            Failure::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Failure {}

impl de::Error for Failure {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Failure::Other(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        Failure::Missing(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::HashMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Safe,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Config {
        table_name: String,
        port: u16,
        verbose: bool,
        mode: Mode,
        ratio: f64,
        #[serde(default)]
        retries: u32,
        region: Option<String>,
        hosts: Vec<String>,
    }

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn reads_every_kind_of_field() {
        let config = load(&[
            ("TABLE_NAME", "orders"),
            ("PORT", "8080"),
            ("VERBOSE", "true"),
            ("MODE", "safe"),
            ("RATIO", "0.5"),
            ("HOSTS", "a, b,c"),
        ])
        .unwrap();
        assert_eq!(
            config,
            Config {
                table_name: "orders".into(),
                port: 8080,
                verbose: true,
                mode: Mode::Safe,
                ratio: 0.5,
                retries: 0,
                region: None,
                hosts: vec!["a".into(), "b".into(), "c".into()],
            }
        );
    }

    #[test]
    fn reports_every_missing_and_invalid_variable_at_once() {
        let error =
            load(&[("PORT", "eighty"), ("MODE", "reckless"), ("RETRIES", "-1")]).unwrap_err();
        let all = error.to_string();
        for needle in [
            "TABLE_NAME is not set",
            "PORT must be a whole number from 0 to 65535",
            "VERBOSE is not set",
            "MODE: unknown variant `reckless`",
            "RATIO is not set",
            "RETRIES must be a non-negative whole number",
            "HOSTS is not set",
        ] {
            assert!(all.contains(needle), "{needle:?} missing from {all}");
        }
        assert!(!all.contains("REGION"), "{all}");
        assert_eq!(error.problems().len(), 7, "{all}");
    }
}
