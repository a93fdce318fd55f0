//! `GET /v1/responses/{id}/input_items`: the input items a stored response was made from, as
//! the Responses API lists them — `{"object": "list", "data", "first_id", "last_id",
//! "has_more"}`, newest first unless `order=asc`, `limit` 1–100 (default 20), paged with
//! `after` (and `before`) item ids. Items are listed as the Responses API shows them: each has
//! an `id` (a stable `msg_…` one made up from the response id and position when the client sent
//! none) and a `type`, and a message's string content is an `input_text` (`output_text` for
//! the assistant) part. A response chained with `previous_response_id` lists the whole
//! conversation that led to it, earlier turns' items included, since that is what was sent.

use serde::Deserialize;
use serde_json::{Value, json};

/// The query of the list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ItemsQuery {
    after: Option<String>,
    before: Option<String>,
    limit: Option<i64>,
    order: Option<String>,
    /// Accepted for compatibility; nothing more is kept to include.
    include: Option<Value>,
}

/// A bad query: the parameter and what is wrong with it.
pub(super) struct BadQuery(pub &'static str, pub String);

/// The page of `input` (the stored items of response `id`) that `query` asks for.
pub(super) fn page(id: &str, input: &[Value], query: &ItemsQuery) -> Result<Value, BadQuery> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(BadQuery(
            "limit",
            format!("limit must be between 1 and 100, not {limit}"),
        ));
    }
    let descending = match query.order.as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(BadQuery(
                "order",
                format!("order must be 'asc' or 'desc', not '{other}'"),
            ));
        }
    };
    let mut items: Vec<Value> = input
        .iter()
        .enumerate()
        .map(|(i, item)| listed(id, i, item))
        .collect();
    if descending {
        items.reverse();
    }
    let position =
        |cursor: &Option<String>, name: &'static str| -> Result<Option<usize>, BadQuery> {
            match cursor {
                None => Ok(None),
                Some(c) => items
                    .iter()
                    .position(|item| item["id"].as_str() == Some(c))
                    .map(Some)
                    .ok_or_else(|| BadQuery(name, format!("no input item '{c}' in this response"))),
            }
        };
    let start = position(&query.after, "after")?.map_or(0, |p| p + 1);
    let end = position(&query.before, "before")?.unwrap_or(items.len());
    let window = items.get(start..end.max(start)).unwrap_or_default();
    let limit = limit as usize;
    let data: Vec<Value> = window.iter().take(limit).cloned().collect();
    Ok(json!({
        "object": "list",
        "first_id": data.first().map(|i| i["id"].clone()),
        "last_id": data.last().map(|i| i["id"].clone()),
        "has_more": window.len() > limit,
        "data": data,
    }))
}

/// One stored input item as the list shows it.
fn listed(response_id: &str, index: usize, item: &Value) -> Value {
    let Value::Object(fields) = item else {
        return item.clone();
    };
    let mut fields = fields.clone();
    let is_message = fields.contains_key("role")
        && fields
            .get("type")
            .is_none_or(|t| t.as_str() == Some("message"));
    if is_message {
        fields.insert("type".into(), Value::from("message"));
        let part = if fields.get("role").and_then(Value::as_str) == Some("assistant") {
            "output_text"
        } else {
            "input_text"
        };
        if let Some(Value::String(text)) = fields.get("content") {
            let content = json!([{ "type": part, "text": text }]);
            fields.insert("content".into(), content);
        }
        fields
            .entry("status")
            .or_insert_with(|| Value::from("completed"));
    }
    if !fields.get("id").is_some_and(Value::is_string) {
        let suffix = response_id.strip_prefix("resp_").unwrap_or(response_id);
        let prefix = if is_message { "msg" } else { "item" };
        fields.insert(
            "id".into(),
            Value::from(format!("{prefix}_{suffix}_{index}")),
        );
    }
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn input() -> Vec<Value> {
        vec![
            json!({ "role": "user", "content": "one" }),
            json!({ "id": "msg_x", "type": "message", "role": "assistant",
                    "content": [{ "type": "output_text", "text": "two" }] }),
            json!({ "type": "message", "role": "user", "content": "three" }),
        ]
    }

    fn query(q: &str) -> ItemsQuery {
        serde_json::from_value(serde_json::from_str(q).unwrap()).unwrap()
    }

    #[test]
    fn items_are_listed_newest_first_with_ids_and_typed_parts() {
        let list = page("resp_1", &input(), &ItemsQuery::default())
            .ok()
            .unwrap();
        assert_eq!(list["object"], "list");
        assert_eq!(list["data"][0]["id"], "msg_1_2");
        assert_eq!(
            list["data"][0]["content"],
            json!([{ "type": "input_text", "text": "three" }])
        );
        assert_eq!(list["data"][1]["id"], "msg_x");
        assert_eq!(list["data"][2]["type"], "message");
        assert_eq!(list["first_id"], "msg_1_2");
        assert_eq!(list["last_id"], "msg_1_0");
        assert_eq!(list["has_more"], false);
    }

    #[test]
    fn pages_follow_after_and_limit() {
        let first = page("resp_1", &input(), &query(r#"{"order":"asc","limit":2}"#))
            .ok()
            .unwrap();
        assert_eq!(first["has_more"], true);
        assert_eq!(first["last_id"], "msg_x");
        let next = page(
            "resp_1",
            &input(),
            &query(r#"{"order":"asc","limit":2,"after":"msg_x"}"#),
        )
        .ok()
        .unwrap();
        assert_eq!(next["data"].as_array().unwrap().len(), 1);
        assert_eq!(next["first_id"], "msg_1_2");
        assert_eq!(next["has_more"], false);
        assert!(page("resp_1", &input(), &query(r#"{"limit":0}"#)).is_err());
        assert!(page("resp_1", &input(), &query(r#"{"order":"up"}"#)).is_err());
    }
}
