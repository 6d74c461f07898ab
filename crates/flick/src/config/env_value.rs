//! One variable's text, parsed for the type its field asks for. A value that
//! does not parse is recorded as a problem and replaced by the type's default,
//! so that the same pass goes on to find the other problems.

use std::fmt;

use serde::de::{self, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::{variable, Failure, Invalid, Pass};

/// One variable's text, parsed for the type the field asks for.
pub(super) struct EnvValue<'p, 'a, 't> {
    pub(super) pass: &'p Pass<'a>,
    pub(super) field: &'static str,
    pub(super) text: &'t str,
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
