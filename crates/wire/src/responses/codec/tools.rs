//! Responses tools ↔ canonical tools.
//!
//! - `function` tools map one for one.
//! - A `namespace` tool's functions become canonical tools named `{namespace}__{function}`
//!   (the only names other wire formats see, and valid there); the namespace rides along in
//!   [`Tool::namespace`], so encoding groups them again and a call of such a tool goes back
//!   to the client as `function_call` with `namespace` and the bare function name.
//! - Hosted web search (`web_search`, `web_search_preview`, …) is dropped: only OpenAI runs
//!   it, and it is an offer the model may ignore (the Codex CLI sends it with every request).
//!   A `tool_choice` forcing it is still refused.
//! - Any other tool (`custom`, `file_search`, `code_interpreter`, `mcp`, …) is refused with an
//!   error naming it.

use serde_json::json;

use crate::canonical::{DecodeError, Tool, ToolNamespace};
use crate::responses::{self, FunctionTool, NamespaceTool};

/// Joins a namespace and a function name into one tool name.
const SEPARATOR: &str = "__";

/// Tool types dropped from translated requests.
fn is_hosted_web_search(kind: &str) -> bool {
    kind.starts_with("web_search")
}

/// `{namespace}__{function}`.
pub(crate) fn flat_name(namespace: &str, function: &str) -> String {
    format!("{namespace}{SEPARATOR}{function}")
}

/// The canonical tools for a request's `tools`.
pub(crate) fn decode_tools(tools: &[responses::Tool]) -> Result<Vec<Tool>, DecodeError> {
    let mut out = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        match tool {
            responses::Tool::Function(f) => out.push(decode_function(f, None)),
            responses::Tool::Namespace(ns) => {
                let namespace = ToolNamespace {
                    name: ns.name.clone(),
                    description: ns.description.clone(),
                };
                for (j, inner) in ns.tools.iter().enumerate() {
                    match inner {
                        responses::Tool::Function(f) => {
                            out.push(decode_function(f, Some(&namespace)));
                        }
                        other => {
                            return Err(refused(&format!("tools[{i}].tools[{j}].type"), other));
                        }
                    }
                }
            }
            other if is_hosted_web_search(other.kind()) => {}
            other => return Err(refused(&format!("tools[{i}].type"), other)),
        }
    }
    Ok(out)
}

fn decode_function(f: &FunctionTool, namespace: Option<&ToolNamespace>) -> Tool {
    Tool {
        name: match namespace {
            Some(ns) => flat_name(&ns.name, &f.name),
            None => f.name.clone(),
        },
        description: f.description.clone(),
        parameters: f
            .parameters
            .clone()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        strict: f.strict,
        cache_control: None,
        namespace: namespace.cloned(),
    }
}

fn refused(field: &str, tool: &responses::Tool) -> DecodeError {
    let named = tool.name().map(|n| format!(" ('{n}')")).unwrap_or_default();
    DecodeError::new(
        field,
        format!(
            "the tool type '{}'{named} is not supported by this gateway: only 'function' tools \
             (also inside a 'namespace') can be translated to its providers",
            tool.kind()
        ),
    )
}

/// Responses tools for canonical tools: functions of one namespace grouped again, in the
/// place of the namespace's first function.
pub(crate) fn encode_tools(tools: &[Tool]) -> Vec<responses::Tool> {
    let mut out: Vec<responses::Tool> = Vec::new();
    for tool in tools {
        let Some(ns) = &tool.namespace else {
            out.push(responses::Tool::Function(encode_function(tool, &tool.name)));
            continue;
        };
        let function = encode_function(tool, split(tool).1);
        let group = out.iter_mut().find_map(|t| match t {
            responses::Tool::Namespace(n) if n.name == ns.name => Some(n),
            _ => None,
        });
        match group {
            Some(group) => group.tools.push(responses::Tool::Function(function)),
            None => out.push(responses::Tool::Namespace(NamespaceTool {
                name: ns.name.clone(),
                description: ns.description.clone(),
                tools: vec![responses::Tool::Function(function)],
            })),
        }
    }
    out
}

fn encode_function(tool: &Tool, name: &str) -> FunctionTool {
    FunctionTool {
        name: name.to_owned(),
        description: tool.description.clone(),
        parameters: Some(tool.parameters.clone()),
        strict: tool.strict,
    }
}

/// A canonical tool's namespace and bare function name.
fn split(tool: &Tool) -> (Option<&str>, &str) {
    match &tool.namespace {
        Some(ns) => {
            let bare = tool
                .name
                .strip_prefix(ns.name.as_str())
                .and_then(|rest| rest.strip_prefix(SEPARATOR))
                .unwrap_or(&tool.name);
            (Some(ns.name.as_str()), bare)
        }
        None => (None, &tool.name),
    }
}

/// The namespace and bare name for a call of canonical tool `name`, given the request's
/// canonical tools: a function of a namespace is named as the client declared it.
pub(crate) fn call_name(tools: &[Tool], name: &str) -> (Option<String>, String) {
    match tools.iter().find(|t| t.name == name) {
        Some(tool) => {
            let (ns, bare) = split(tool);
            (ns.map(str::to_owned), bare.to_owned())
        }
        None => (None, name.to_owned()),
    }
}

/// [`call_name`] from encoded tools (a response object's echo of the request's tools).
pub(crate) fn call_name_in(tools: &[responses::Tool], name: &str) -> (Option<String>, String) {
    for tool in tools {
        let responses::Tool::Namespace(ns) = tool else {
            continue;
        };
        let Some(bare) = name
            .strip_prefix(ns.name.as_str())
            .and_then(|rest| rest.strip_prefix(SEPARATOR))
        else {
            continue;
        };
        if ns.tools.iter().any(|t| t.name() == Some(bare)) {
            return (Some(ns.name.clone()), bare.to_owned());
        }
    }
    (None, name.to_owned())
}
