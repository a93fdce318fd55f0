//! Unit and property tests for [`RawObject`] and [`JsonError`].

use std::borrow::Cow;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

#[test]
fn reads_typed_fields() -> Result<(), JsonError> {
    let input =
        br#"{"model":"gpt-4o","stream":true,"n":3,"neg":-1,"f":1.5,"esc":"a\"b\u00e9","nul":null}"#;
    let obj = RawObject::parse(input)?;
    assert_eq!(obj.get_str("model").as_deref(), Some("gpt-4o"));
    assert!(matches!(obj.get_str("model"), Some(Cow::Borrowed(_))));
    assert_eq!(obj.get_str("esc").as_deref(), Some("a\"bé"));
    assert_eq!(obj.get_bool("stream"), Some(true));
    assert_eq!(obj.get_u64("n"), Some(3));
    assert_eq!(obj.get_u64("neg"), None);
    assert_eq!(obj.get_u64("f"), None);
    assert_eq!(obj.get_str("n"), None);
    assert_eq!(obj.get_bool("model"), None);
    assert_eq!(obj.get_str("missing"), None);
    assert!(obj.contains("nul"));
    assert_eq!(obj.get("nul").map(RawValue::get), Some("null"));
    assert!(!obj.contains("missing"));
    assert_eq!(obj.len(), 7);
    Ok(())
}

#[test]
fn values_are_kept_byte_for_byte() -> Result<(), JsonError> {
    let input = b" {\n  \"a\" : [1, 2,\n 3],\n  \"b\": {\"x\": 1.0e3}, \"c\": \"\\u00e9\"\n}\n";
    let obj = RawObject::parse(input)?;
    assert_eq!(obj.get("a").map(RawValue::get), Some("[1, 2,\n 3]"));
    assert_eq!(
        obj.to_vec(),
        b"{\"a\":[1, 2,\n 3],\"b\":{\"x\": 1.0e3},\"c\":\"\\u00e9\"}".to_vec()
    );
    Ok(())
}

#[test]
fn set_replaces_in_place_and_appends() -> Result<(), JsonError> {
    let mut obj = RawObject::parse(br#"{"model":"alias","messages":[],"stream":true}"#)?;
    obj.set("model", "gpt-4o-2024-08-06")?;
    obj.set("stream_options", &json!({"include_usage": true}))?;
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        ["model", "messages", "stream", "stream_options"]
    );
    assert_eq!(
        String::from_utf8_lossy(&obj.to_vec()),
        r#"{"model":"gpt-4o-2024-08-06","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#
    );
    obj.set_raw("stream", RawValue::from_string("false".to_owned())?);
    assert_eq!(obj.get_bool("stream"), Some(false));
    Ok(())
}

#[test]
fn remove_keeps_order() -> Result<(), JsonError> {
    let mut obj = RawObject::parse(br#"{"a":1,"b":2,"c":3}"#)?;
    assert!(obj.remove("b"));
    assert!(!obj.remove("b"));
    assert_eq!(obj.to_vec(), br#"{"a":1,"c":3}"#.to_vec());
    Ok(())
}

#[test]
fn duplicate_keys_keep_the_last_value() -> Result<(), JsonError> {
    let obj = RawObject::parse(br#"{"a":1,"b":2,"a":3,"c":4,"a":5}"#)?;
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(obj.get_u64("a"), Some(5));
    assert_eq!(
        value(&obj.to_vec()),
        value(br#"{"a":1,"b":2,"a":3,"c":4,"a":5}"#)
    );
    // Many keys take the hashed path.
    let mut big = String::from("{");
    for i in 0..100 {
        big.push_str(&format!("\"k{i}\":{i},"));
    }
    big.push_str("\"k7\":\"last\"}");
    let obj = RawObject::parse(big.as_bytes())?;
    assert_eq!(obj.len(), 100);
    assert_eq!(obj.get_str("k7").as_deref(), Some("last"));
    assert_eq!(obj.keys().nth(7), Some("k7"));
    Ok(())
}

#[test]
fn escaped_keys_are_unescaped_and_re_escaped() -> Result<(), JsonError> {
    let input = br#"{"a\"b":1,"\u00e9\n":2,"\u0001":3}"#;
    let obj = RawObject::parse(input)?;
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["a\"b", "é\n", "\u{1}"]);
    assert_eq!(obj.get_u64("é\n"), Some(2));
    assert_eq!(value(&obj.to_vec()), value(input));
    Ok(())
}

#[test]
fn not_an_object_is_an_error() {
    for input in [&b"[1]"[..], b"\"x\"", b"", b"  \n  42", b"null"] {
        let err = RawObject::parse(input).expect_err("not an object");
        assert_eq!(err.message, "expected a JSON object", "{input:?}");
    }
    let err = RawObject::parse(b"\n\n  [").expect_err("not an object");
    assert_eq!((err.line, err.column), (3, 3));
    assert_eq!(err.to_string(), "expected a JSON object at line 3 column 3");
}

#[test]
fn syntax_errors_carry_position() {
    let err = RawObject::parse(b"{\n\"a\": tru}").expect_err("bad literal");
    assert_eq!(err.line, 2);
    assert!(err.column > 0);
    assert!(!err.message.contains("at line"), "{}", err.message);
    assert_eq!(
        err.to_string(),
        format!("{} at line {} column {}", err.message, err.line, err.column)
    );
    let err = RawObject::parse(b"{\"a\":1} x").expect_err("trailing characters");
    assert_eq!(err.message, "trailing characters");
}

#[test]
fn deeply_nested_values_are_an_error_not_a_crash() {
    let mut deep = b"{\"a\":".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 100_000));
    deep.extend(std::iter::repeat_n(b']', 100_000));
    deep.push(b'}');
    // Either outcome is fine as long as the stack survives.
    let _ = RawObject::parse(&deep);
}

#[test]
fn into_owned_detaches_from_input() -> Result<(), JsonError> {
    let owned = {
        let input = br#"{"a":"x","b":[1]}"#.to_vec();
        RawObject::parse(&input)?.into_owned()
    };
    assert_eq!(owned.get_str("a").as_deref(), Some("x"));
    assert_eq!(owned.to_vec(), br#"{"a":"x","b":[1]}"#.to_vec());
    Ok(())
}

#[test]
fn serializes_as_a_map() -> Result<(), JsonError> {
    let obj = RawObject::parse(br#"{"a": [1, 2], "b":"c"}"#)?;
    let out = serde_json::to_string(&json!({ "wrapped": serde_json::to_value(&obj)? }))?;
    assert_eq!(out, r#"{"wrapped":{"a":[1,2],"b":"c"}}"#);
    Ok(())
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_object() -> impl Strategy<Value = Value> {
    prop::collection::vec((any::<String>(), arb_json()), 0..12)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
}

proptest! {
    #[test]
    fn parse_then_to_vec_preserves_the_value(object in arb_object(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_vec_pretty(&object)
        } else {
            serde_json::to_vec(&object)
        }.expect("serializable");
        let parsed = RawObject::parse(&text).expect("parses");
        let back: Value = serde_json::from_slice(&parsed.to_vec()).expect("valid JSON out");
        // Compare with the text parsed the same way (float parsing is not exactly invertible).
        prop_assert_eq!(back, value(&text));
    }

    #[test]
    fn set_then_get_round_trips(object in arb_object(), key in any::<String>(), new in arb_json()) {
        let text = serde_json::to_vec(&object).expect("serializable");
        let mut parsed = RawObject::parse(&text).expect("parses");
        parsed.set(&key, &new).expect("serializable");
        let mut expected = value(&text);
        if let Value::Object(map) = &mut expected {
            map.insert(key, value(&serde_json::to_vec(&new).expect("serializable")));
        }
        let back: Value = serde_json::from_slice(&parsed.to_vec()).expect("valid JSON out");
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = RawObject::parse(&input);
    }
}
