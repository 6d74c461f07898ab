//! Typed configuration: a `#[derive(Deserialize)]` struct read from environment
//! variables, field `table_name` from `TABLE_NAME`.
//!
//! Values are parsed for the field's type (numbers, booleans, enums by variant
//! name, `Option` for optional variables, `Vec` from comma-separated lists,
//! `#[serde(default)]` honoured). Every missing or invalid variable is reported
//! together: serde stops at the first error, so the struct is read again with a
//! stand-in value for each variable already found wrong, until no new problem
//! turns up. Owns that deserializer and [`ConfigError`]; when config is loaded
//! (at init, never per request) is `init`'s business.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;

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
fn variable(field: &str) -> String {
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
struct Pass<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    stand_ins: &'a [&'static str],
    /// Values that did not parse; a stand-in was used so the pass went on.
    invalid: RefCell<Vec<Invalid>>,
    /// The field being read and whether it got a stand-in.
    current: RefCell<Option<(&'static str, bool)>>,
}

struct Invalid {
    variable: String,
    expected: &'static str,
    reason: String,
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
enum Failure {
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

/// The configuration struct as a whole.
struct EnvStruct<'p, 'a> {
    pass: &'p Pass<'a>,
}

impl<'de> de::Deserializer<'de> for EnvStruct<'_, '_> {
    type Error = Failure;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Failure> {
        visitor.visit_map(Fields {
            pass: self.pass,
            fields: fields.iter(),
            value: None,
        })
    }

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Failure> {
        Err(Failure::Other(
            "configuration must be a struct with named fields".into(),
        ))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// Yields the fields whose variables are set, and the stand-ins.
struct Fields<'p, 'a> {
    pass: &'p Pass<'a>,
    fields: std::slice::Iter<'static, &'static str>,
    value: Option<(&'static str, Option<String>)>,
}

impl<'de> MapAccess<'de> for Fields<'_, '_> {
    type Error = Failure;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Failure> {
        for &field in self.fields.by_ref() {
            let value = (self.pass.get)(&variable(field));
            if value.is_some() || self.pass.stand_ins.contains(&field) {
                let key = seed.deserialize(field.into_deserializer())?;
                self.value = Some((field, value));
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Failure> {
        let (field, value) = self
            .value
            .take()
            .ok_or_else(|| Failure::Other("value asked before its key".into()))?;
        let stand_in = self.pass.stand_ins.contains(&field) || value.is_none();
        *self.pass.current.borrow_mut() = Some((field, stand_in));
        let value = match value {
            Some(text) if !stand_in => seed.deserialize(EnvValue {
                pass: self.pass,
                field,
                text: &text,
            }),
            _ => seed.deserialize(StandIn),
        }?;
        *self.pass.current.borrow_mut() = None;
        Ok(value)
    }
}

/// One variable's text, parsed for the type the field asks for.
struct EnvValue<'p, 'a, 't> {
    pass: &'p Pass<'a>,
    field: &'static str,
    text: &'t str,
}

impl EnvValue<'_, '_, '_> {
    /// Parses the text; on failure records the problem and returns the type's
    /// default so the pass can go on to the next variable.
    fn parse<T: std::str::FromStr + Default>(&self, expected: &'static str) -> T
    where
        T::Err: fmt::Display,
    {
        self.text.trim().parse().unwrap_or_else(|e: T::Err| {
            self.pass.invalid.borrow_mut().push(Invalid {
                variable: variable(self.field),
                expected,
                reason: e.to_string(),
            });
            T::default()
        })
    }
}

macro_rules! parse_as {
    ($($method:ident => $visit:ident: $ty:ty, $expected:literal;)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
            visitor.$visit(self.parse::<$ty>($expected))
        })*
    };
}

impl<'de> de::Deserializer<'de> for EnvValue<'_, '_, '_> {
    type Error = Failure;

    parse_as! {
        deserialize_bool => visit_bool: bool, "true or false";
        deserialize_i8 => visit_i8: i8, "a whole number (i8)";
        deserialize_i16 => visit_i16: i16, "a whole number (i16)";
        deserialize_i32 => visit_i32: i32, "a whole number (i32)";
        deserialize_i64 => visit_i64: i64, "a whole number (i64)";
        deserialize_u8 => visit_u8: u8, "a whole number from 0 to 255";
        deserialize_u16 => visit_u16: u16, "a whole number from 0 to 65535";
        deserialize_u32 => visit_u32: u32, "a non-negative whole number (u32)";
        deserialize_u64 => visit_u64: u64, "a non-negative whole number (u64)";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
        deserialize_char => visit_char: char, "a single character";
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        visitor.visit_str(self.text)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Failure> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        let items = self
            .text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|text| EnvValue {
                pass: self.pass,
                field: self.field,
                text,
            });
        visitor.visit_seq(de::value::SeqDeserializer::new(items))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Failure> {
        visitor.visit_enum(self.text.trim().into_deserializer())
    }

    forward_to_deserialize_any! {
        i128 u128 str string bytes byte_buf unit unit_struct tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Failure> for EnvValue<'_, '_, '_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// A value for a variable already reported, so the pass can reach the others.
struct StandIn;

macro_rules! stand_in_as {
    ($($method:ident => $visit:ident($($value:expr)?);)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
            visitor.$visit($($value)?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for StandIn {
    type Error = Failure;

    // serde's primitive visitors accept any in-range integer or float, so one
    // zero of the widest type fits every width.
    stand_in_as! {
        deserialize_any => visit_str("");
        deserialize_bool => visit_bool(false);
        deserialize_i8 => visit_i64(0);
        deserialize_i16 => visit_i64(0);
        deserialize_i32 => visit_i64(0);
        deserialize_i64 => visit_i64(0);
        deserialize_u8 => visit_u64(0);
        deserialize_u16 => visit_u64(0);
        deserialize_u32 => visit_u64(0);
        deserialize_u64 => visit_u64(0);
        deserialize_f32 => visit_f64(0.0);
        deserialize_f64 => visit_f64(0.0);
        deserialize_option => visit_none();
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Failure> {
        let empty = de::value::SeqDeserializer::<_, Failure>::new(std::iter::empty::<()>());
        visitor.visit_seq(empty)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Failure> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Failure> {
        let first = variants.first().copied().unwrap_or_default();
        visitor.visit_enum(first.into_deserializer())
    }

    forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple
        tuple_struct map struct identifier ignored_any
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
