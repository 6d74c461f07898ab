//! Values for variables already reported (missing, or refused by their
//! type), so that a new pass over the struct can reach the variables after
//! them. Zeros, empty strings and lists, `None`, an enum's first variant.

use serde::de::{self, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::Failure;

/// A value for a variable already reported, so the pass can reach the others.
pub(super) struct StandIn;

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
