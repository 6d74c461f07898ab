//! The configuration struct as serde sees it: a map whose keys are the
//! struct's fields that have a variable set (or a stand-in), and whose values
//! are those variables. Owns walking the fields; parsing one value is
//! `env_value`'s job.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::env_value::EnvValue;
use super::stand_in::StandIn;
use super::{variable, Failure, Pass};

/// The configuration struct as a whole.
pub(super) struct EnvStruct<'p, 'a> {
    pub(super) pass: &'p Pass<'a>,
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
