//! `JsonBody<T>`: a JSON request payload whose errors name the offending field.
//!
//! poem-openapi's own `Json<T>` reports type errors without the field path. This payload keeps
//! `T`'s OpenAPI schema for the spec but parses with serde, tracking the path, so a client sees
//! `422 … shipping_address.postal_code: invalid type: integer, expected a string`. Malformed
//! JSON is a 400, an oversized body a 413.

use poem::{Request, RequestBody};
use poem_openapi::{
    impl_apirequest_for_payload,
    payload::{ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::Type,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::Problem;
use crate::validation::ValidationErrors;

/// The largest request body accepted, set per request by the body-limit middleware.
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON request body parsed with field-path errors.
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .map(str::trim)
            .is_some_and(|mime| mime.eq_ignore_ascii_case("application/json"))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + DeserializeOwned> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = read_limited(request, body).await?;
        parse(bytes.as_ref())
            .map(Self)
            .map_err(|problem| problem_error(with_every_shape_error::<T>(problem, bytes.as_ref())))
    }
}

/// Reads the whole body up to the configured limit (413 beyond it).
async fn read_limited(request: &Request, body: &mut RequestBody) -> poem::Result<impl AsRef<[u8]>> {
    let limit = request.data::<BodyLimit>().map_or(1024 * 1024, |l| l.0);
    body.take()?
        .into_bytes_limit(limit)
        .await
        .map_err(|e| match e {
            poem::error::ReadBodyError::PayloadTooLarge => Problem::new(
                poem::http::StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body exceeds {limit} bytes"),
            ),
            _ => Problem::bad_request("unreadable_body", "the request body could not be read"),
        })
        .map_err(problem_error)
}

/// The deepest nesting of arrays and objects accepted. Real requests nest a few levels;
/// refusing deeper bodies before parsing keeps hostile ones cheap (serde_json's own
/// recursion guard only stops at 128).
pub const MAX_JSON_DEPTH: usize = 32;

/// Whether arrays and objects nest deeper than `max` (brackets inside strings don't count).
fn nests_deeper_than(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn too_deep() -> Problem {
    Problem::bad_request(
        "json_too_deep",
        format!("the request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"),
    )
}

impl_apirequest_for_payload!(JsonBody<T>, T: Type + DeserializeOwned);

fn problem_error(problem: Problem) -> poem::Error {
    use poem::IntoResponse;
    poem::Error::from_response(problem.into_response())
}

/// Parses JSON into `T`; syntax errors are 400, shape errors 422 naming the field.
#[allow(clippy::result_large_err)] // the problem body is the error path's answer, not a hot path
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(
            "missing_body",
            "a JSON request body is required",
        ));
    }
    if nests_deeper_than(bytes, MAX_JSON_DEPTH) {
        return Err(too_deep());
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => {
            de.end().map_err(|e| malformed(&e))?;
            if let Some(field) = nul_character(bytes) {
                return Err(Problem::validation(ValidationErrors::single(
                    field,
                    "must not contain the NUL character (\\u0000)",
                )));
            }
            Ok(value)
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.classify() != serde_json::error::Category::Data {
                return Err(malformed(&inner));
            }
            let field = if path == "." {
                missing_field(&inner)
            } else {
                Some(path)
            };
            Err(Problem::validation(ValidationErrors::single(
                field.unwrap_or_else(|| "body".into()),
                strip_position(&inner.to_string()),
            )))
        }
    }
}

/// serde stops at the first field that does not fit; `T`'s schema finds the others (missing,
/// wrong type, not one of an enum's values), so a client fixes a whole form in one round trip.
fn with_every_shape_error<T: Type>(problem: Problem, bytes: &[u8]) -> Problem {
    if problem.code != "validation_failed" {
        return problem;
    }
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return problem;
    };
    let mut registry = Registry::new();
    T::register(&mut registry);
    let mut errors = ValidationErrors::new();
    check_shape(&registry, &T::schema_ref(), &value, "", &mut errors);
    for first in problem.errors.iter().flatten() {
        if !errors.0.iter().any(|e| e.field == first.field) {
            errors.add(first.field.clone(), first.message.clone());
        }
    }
    Problem::validation(errors)
}

fn check_shape(
    registry: &Registry,
    schema: &MetaSchemaRef,
    value: &Value,
    path: &str,
    errors: &mut ValidationErrors,
) {
    let schema: &MetaSchema = match schema {
        MetaSchemaRef::Inline(schema) => schema,
        MetaSchemaRef::Reference(name) => match registry.schemas.get(name) {
            Some(schema) => schema,
            None => return,
        },
    };
    if !schema.any_of.is_empty() || !schema.one_of.is_empty() || !schema.all_of.is_empty() {
        return;
    }
    let field = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let here = || {
        if path.is_empty() {
            "body".to_owned()
        } else {
            path.to_owned()
        }
    };
    match (schema.ty, value) {
        (_, Value::Null) if schema.nullable => {}
        ("object", Value::Object(map)) => {
            for name in &schema.required {
                if map.get(*name).is_none_or(Value::is_null) {
                    errors.add(field(name), "is required");
                }
            }
            for (name, property) in &schema.properties {
                if let Some(inner) = map.get(*name).filter(|v| !v.is_null()) {
                    check_shape(registry, property, inner, &field(name), errors);
                }
            }
            if let Some(values) = &schema.additional_properties {
                for (name, inner) in map {
                    check_shape(registry, values, inner, &field(name), errors);
                }
            }
        }
        ("array", Value::Array(items)) => {
            if let Some(item) = &schema.items {
                for (i, inner) in items.iter().enumerate() {
                    check_shape(registry, item, inner, &format!("{}[{i}]", here()), errors);
                }
            }
        }
        ("string", Value::String(text))
            if !schema.enum_items.is_empty() && !schema.enum_items.iter().any(|e| e == text) =>
        {
            let allowed: Vec<&str> = schema.enum_items.iter().filter_map(Value::as_str).collect();
            errors.add(here(), format!("must be one of {}", allowed.join(", ")));
        }
        ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => {
            let fits = match schema.format {
                Some("int32") => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
                Some("int64") => n.is_i64(),
                _ => true,
            };
            if !fits {
                errors.add(
                    here(),
                    format!("must be an {} integer", schema.format.unwrap_or_default()),
                );
            }
        }
        ("string", Value::String(_))
        | ("number", Value::Number(_))
        | ("boolean", Value::Bool(_)) => {}
        ("object" | "array" | "string" | "integer" | "number" | "boolean", _) => {
            let expected = match schema.ty {
                "object" => "an object",
                "array" => "an array",
                "string" => "a string",
                "integer" => "an integer",
                "number" => "a number",
                _ => "true or false",
            };
            errors.add(here(), format!("must be {expected}"));
        }
        _ => {}
    }
}

/// The path of the first string (value or key) holding U+0000, which PostgreSQL text cannot
/// store. JSON can only carry it escaped, so bodies without `\u0000` are not walked.
fn nul_character(bytes: &[u8]) -> Option<String> {
    const ESCAPE: &[u8] = b"\\u0000";
    if !bytes.windows(ESCAPE.len()).any(|w| w == ESCAPE) {
        return None;
    }
    fn walk(value: &serde_json::Value, path: &str) -> Option<String> {
        let join = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match value {
            serde_json::Value::String(s) if s.contains('\0') => Some(if path.is_empty() {
                "body".into()
            } else {
                path.to_owned()
            }),
            serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
                walk(
                    v,
                    &format!("{}[{i}]", if path.is_empty() { "body" } else { path }),
                )
            }),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                if k.contains('\0') {
                    Some(join(k))
                } else {
                    walk(v, &join(k))
                }
            }),
            _ => None,
        }
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    walk(&value, "")
}

fn malformed(error: &serde_json::Error) -> Problem {
    Problem::bad_request(
        "malformed_json",
        format!(
            "the request body is not valid JSON: {}",
            strip_position(&error.to_string())
        ),
    )
}

/// serde reports a missing field at the parent's path; name the field itself.
fn missing_field(error: &serde_json::Error) -> Option<String> {
    let text = error.to_string();
    let rest = text.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_owned)
}

/// Drops serde's " at line 1 column 42" suffix: positions mean nothing to API clients.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Address {
        postal_code: String,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Checkout {
        shipping_address: Address,
        note: Option<String>,
    }

    #[test]
    fn names_nested_fields() {
        let p = parse::<Checkout>(br#"{"shipping_address":{"postal_code":123}}"#).unwrap_err();
        assert_eq!(p.status, 422);
        assert_eq!(p.errors.unwrap()[0].field, "shipping_address.postal_code");
    }

    #[test]
    fn names_missing_fields() {
        let p = parse::<Checkout>(br#"{"note":"x"}"#).unwrap_err();
        assert_eq!(p.errors.unwrap()[0].field, "shipping_address");
    }

    #[test]
    fn nul_characters_are_refused_naming_the_field() {
        let p =
            parse::<Checkout>(br#"{"shipping_address":{"postal_code":"4\u00001"}}"#).unwrap_err();
        assert_eq!(p.status, 422);
        assert_eq!(p.errors.unwrap()[0].field, "shipping_address.postal_code");
        // An escaped backslash followed by "u0000" is ordinary text.
        let ok = parse::<Checkout>(br#"{"shipping_address":{"postal_code":"\\u0000"}}"#);
        assert_eq!(ok.unwrap().shipping_address.postal_code, "\\u0000");
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let p = parse::<Checkout>(br#"{"shipping_address": "#).unwrap_err();
        assert_eq!((p.status, p.code.as_str()), (400, "malformed_json"));
        let p = parse::<Checkout>(b"  ").unwrap_err();
        assert_eq!(p.code, "missing_body");
    }

    #[test]
    fn nesting_is_capped_but_brackets_in_strings_do_not_count() {
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH + 1),
            "]".repeat(MAX_JSON_DEPTH + 1)
        );
        let p = parse::<serde_json::Value>(deep.as_bytes()).unwrap_err();
        assert_eq!((p.status, p.code.as_str()), (400, "json_too_deep"));

        let at_limit = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(parse::<serde_json::Value>(at_limit.as_bytes()).is_ok());
        let brackets_in_text = format!(
            r#"{{"note": "{}\\\" {}"}}"#,
            "[".repeat(100),
            "{".repeat(100)
        );
        let value = parse::<serde_json::Value>(brackets_in_text.as_bytes()).unwrap();
        assert!(value["note"].as_str().unwrap().starts_with("[[["));
    }
}

/// A JSON request body kept as the exact text received, for handlers that must see the
/// original bytes (payment notifications are verified and audited as sent).
pub struct RawJson(pub String);

impl Payload for RawJson {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        JsonBody::<serde_json::Value>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        <poem_openapi::types::Any<serde_json::Value> as Type>::schema_ref()
    }
}

impl ParsePayload for RawJson {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = read_limited(request, body).await?;
        if nests_deeper_than(bytes.as_ref(), MAX_JSON_DEPTH) {
            return Err(problem_error(too_deep()));
        }
        String::from_utf8(bytes.as_ref().to_vec())
            .map(Self)
            .map_err(|_| {
                problem_error(Problem::bad_request(
                    "malformed_json",
                    "the request body is not UTF-8",
                ))
            })
    }
}

impl_apirequest_for_payload!(RawJson);
