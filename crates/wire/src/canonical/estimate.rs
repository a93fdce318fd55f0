//! A provider-independent estimate of a request's input tokens, for endpoints that count
//! tokens without calling a provider (Anthropic `count_tokens`).

use super::request::{Block, Request, ToolResultContent};

/// Tokens counted for one image: Anthropic's figure for the largest image it accepts
/// without resizing (about 1,600 tokens); smaller images cost less.
pub const IMAGE_TOKENS: u64 = 1600;

/// ⌈characters / 4⌉ over all text of the request — system, message text, thinking, tool
/// call arguments, tool results and tool definitions (name, description and schema as
/// JSON) — plus [`IMAGE_TOKENS`] per image. A rough count: real tokenizers differ by model
/// and language; English prose averages about four characters a token.
pub fn estimate_input_tokens(request: &Request) -> u64 {
    let mut chars = 0usize;
    let mut images = 0u64;
    let mut text = |s: &str| chars += s.chars().count();
    for t in &request.system {
        text(&t.text);
    }
    for message in &request.messages {
        for block in &message.content {
            match block {
                Block::Text(t) => text(&t.text),
                Block::Image(_) => images += 1,
                Block::ToolUse(u) => {
                    text(&u.name);
                    text(&u.arguments);
                }
                Block::ToolResult(r) => {
                    for part in &r.content {
                        match part {
                            ToolResultContent::Text(t) => text(&t.text),
                            ToolResultContent::Image(_) => images += 1,
                        }
                    }
                }
                Block::Thinking(t) => text(&t.text),
                Block::RedactedThinking { .. } => {}
            }
        }
    }
    for tool in &request.tools {
        text(&tool.name);
        text(tool.description.as_deref().unwrap_or(""));
        text(&tool.parameters.to_string());
    }
    (chars as u64).div_ceil(4) + images * IMAGE_TOKENS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{Image, ImageSource, Message, Role, Text};

    #[test]
    fn counts_a_quarter_of_the_characters_and_images() {
        let mut req = Request {
            system: vec![Text::plain("abcd")],
            messages: vec![Message::text(Role::User, "hello")],
            ..Request::default()
        };
        assert_eq!(estimate_input_tokens(&req), 3, "9 characters");
        req.messages[0].content.push(Block::Image(Image {
            source: ImageSource::Url("https://x".into()),
            detail: None,
            cache_control: None,
        }));
        assert_eq!(estimate_input_tokens(&req), 3 + IMAGE_TOKENS);
    }
}
