//! Finding the JSON object in what a model wrote. Without structured output a model wraps its
//! JSON in Markdown fences or a sentence of preamble; the object inside is still what we want.

use serde_json::Value;

/// How many `{` to try as the start of the object before giving up, so a long answer full of
/// braces costs a bounded amount of parsing.
const MAX_CANDIDATES: usize = 64;

/// The first JSON object in `text`: the whole text, else a fenced block, else the first
/// balanced object found in the prose.
pub(crate) fn extract_object(text: &str) -> Option<Value> {
    let text = text.trim().trim_start_matches('\u{feff}');
    if let Some(value) = parse_object(text) {
        return Some(value);
    }
    if let Some(value) = fenced_blocks(text).find_map(|block| parse_object(block.trim())) {
        return Some(value);
    }
    text.match_indices('{')
        .take(MAX_CANDIDATES)
        .find_map(|(start, _)| leading_object(&text[start..]))
}

fn parse_object(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
}

/// The object at the start of `text`, whatever follows it.
fn leading_object(text: &str) -> Option<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .filter(Value::is_object)
}

/// The insides of the ```-fenced blocks, the language tag line skipped.
fn fenced_blocks(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let open = rest.find("```")?;
        let after_fence = &rest[open + 3..];
        let body_start = after_fence.find('\n').map_or(after_fence.len(), |i| i + 1);
        let body = &after_fence[body_start..];
        match body.find("```") {
            Some(close) => {
                rest = &body[close + 3..];
                Some(&body[..close])
            }
            None => {
                // An unclosed fence: the answer was cut off; take what there is.
                rest = "";
                Some(body)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plain_fenced_and_embedded_objects_are_found() {
        assert_eq!(extract_object(r#" {"a": 1} "#), Some(json!({"a": 1})));
        assert_eq!(
            extract_object("```json\n{\"a\": [1, 2]}\n```"),
            Some(json!({"a": [1, 2]}))
        );
        assert_eq!(
            extract_object("Here you go:\n```\n{\"a\": \"}\"}\n```\nHope it helps!"),
            Some(json!({"a": "}"}))
        );
        assert_eq!(
            extract_object("Sure! {\"a\": {\"b\": true}} and that's {all}."),
            Some(json!({"a": {"b": true}}))
        );
        // A stray brace before the object is skipped.
        assert_eq!(
            extract_object("Use {braces} like so: {\"ok\": 1}"),
            Some(json!({"ok": 1}))
        );
    }

    #[test]
    fn text_without_an_object_gives_none() {
        assert_eq!(extract_object("I cannot help with that."), None);
        assert_eq!(extract_object("[1, 2, 3]"), None);
        assert_eq!(extract_object("{\"unterminated\": "), None);
        assert_eq!(extract_object(""), None);
        assert_eq!(extract_object(&"{".repeat(100_000)), None);
    }
}
