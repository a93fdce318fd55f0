//! Serde support for JSON objects discriminated by a `"type"` field where unknown types must
//! survive a round trip: known types decode into their struct, anything else is kept as a
//! `Value` in the enum's `Other` variant.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Serializes `inner` (a struct that serializes as a map) with `"type": kind` in front.
#[derive(Serialize)]
pub(crate) struct Tagged<'a, T> {
    #[serde(rename = "type")]
    pub(crate) kind: &'a str,
    #[serde(flatten)]
    pub(crate) inner: &'a T,
}

/// The `"type"` of `value`: its string tag, `default` when the field is absent, or `None`
/// (not an object, or a non-string tag) to keep the value as `Other`.
pub(crate) fn tag_of(value: &Value, default: Option<&str>) -> Option<String> {
    match value.as_object()?.get("type") {
        Some(Value::String(tag)) => Some(tag.clone()),
        Some(_) => None,
        None => default.map(str::to_owned),
    }
}

/// Decodes the fields of a tagged object (without its `"type"`) into `T`.
pub(crate) fn from_fields<T: DeserializeOwned>(value: Value, tag: &str) -> Result<T, String> {
    let fields = match value {
        Value::Object(mut map) => {
            map.shift_remove("type");
            Value::Object(map)
        }
        other => other,
    };
    serde_json::from_value(fields).map_err(|e| format!("invalid `{tag}` object: {e}"))
}

/// Implements `Serialize` and `Deserialize` for an enum whose variants each hold one struct
/// and are chosen by the object's `"type"`, plus an `Other(serde_json::Value)` catch-all.
macro_rules! tagged_serde {
    ($name:ident, default = $default:expr, { $($tag:literal => $variant:ident),* $(,)? }) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Self::$variant(inner) => {
                        $crate::openai::tagged::Tagged { kind: $tag, inner }.serialize(serializer)
                    })*
                    Self::Other(value) => value.serialize(serializer),
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = serde_json::Value::deserialize(deserializer)?;
                match $crate::openai::tagged::tag_of(&value, $default).as_deref() {
                    $(Some($tag) => $crate::openai::tagged::from_fields(value, $tag)
                        .map(Self::$variant)
                        .map_err(serde::de::Error::custom),)*
                    _ => Ok(Self::Other(value)),
                }
            }
        }
    };
}

pub(crate) use tagged_serde;
