//! Typed ids on the wire: paths, queries and bodies parse straight into the domain's ids, and
//! each is a UUID in the OpenAPI document (`string`, format `uuid`), as before they had types.

use std::borrow::Cow;

use poem_openapi::{
    registry::MetaSchemaRef,
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    catalog::{CategoryId, ProductId, VariantId},
    orders::OrderId,
};

macro_rules! uuid_on_the_wire {
    ($($id:ty),+ $(,)?) => {$(
        impl Type for $id {
            const IS_REQUIRED: bool = true;

            type RawValueType = Self;

            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                Uuid::name()
            }

            fn schema_ref() -> MetaSchemaRef {
                Uuid::schema_ref()
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $id {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                Uuid::parse_from_json(value)
                    .map(Self::from)
                    .map_err(ParseError::propagate)
            }
        }

        impl ParseFromParameter for $id {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                Uuid::parse_from_parameter(value)
                    .map(Self::from)
                    .map_err(ParseError::propagate)
            }
        }

        impl ToJSON for $id {
            fn to_json(&self) -> Option<Value> {
                self.as_uuid().to_json()
            }
        }
    )+};
}

uuid_on_the_wire!(CategoryId, ProductId, VariantId, OrderId);
