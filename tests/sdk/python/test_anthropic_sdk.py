"""The official Python `anthropic` SDK against the gateway's Anthropic Messages endpoint, which
translates to the mock provider speaking the OpenAI wire format; and the official `openai` SDK
against a provider speaking the Anthropic wire format (the mock's `/v1/messages`).

The mock's echo replies (see test_openai_sdk.py): "echo: <last user text>"; with tools offered
and a user message last it calls the first tool with every required string argument "x"; after
a tool result it answers "tool result: <content>".
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from conftest import CLIENT_TIMEOUT_S, QUALIFIED_MODEL, VIRTUAL_MODEL, start_gateway

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def claude(stack) -> anthropic.Anthropic:
    c = anthropic.Anthropic(
        base_url=stack.gateway_url, api_key="test", timeout=CLIENT_TIMEOUT_S, max_retries=0
    )
    yield c
    c.close()


def test_messages_create(claude):
    msg = claude.messages.create(
        model=VIRTUAL_MODEL,
        max_tokens=100,
        system="be brief",
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert msg.type == "message"
    assert msg.role == "assistant"
    assert msg.model == VIRTUAL_MODEL
    assert msg.id.startswith("msg_")
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == "echo: hello there"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0


def test_messages_stream(claude):
    with claude.messages.stream(
        model=QUALIFIED_MODEL,
        max_tokens=100,
        messages=[{"role": "user", "content": "one two three"}],
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "echo: one two three"
    assert len(pieces) > 1, "text arrives in pieces"
    assert final.content[0].text == "echo: one two three"
    assert final.model == QUALIFIED_MODEL
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4


def test_raw_stream_event_types(claude):
    events = claude.messages.create(
        model=VIRTUAL_MODEL,
        max_tokens=50,
        stream=True,
        messages=[{"role": "user", "content": "a b"}],
    )
    types = [e.type for e in events]
    assert types[0] == "message_start"
    assert types[-2:] == ["message_delta", "message_stop"]
    assert "content_block_start" in types and "content_block_stop" in types


def test_tool_use_round_trip(claude):
    msg = claude.messages.create(
        model=VIRTUAL_MODEL,
        max_tokens=100,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "weather in Paris?"}],
    )
    assert msg.stop_reason == "tool_use"
    (call,) = [b for b in msg.content if b.type == "tool_use"]
    assert call.name == "get_weather"
    assert call.input == {"city": "x"}

    follow = claude.messages.create(
        model=VIRTUAL_MODEL,
        max_tokens=100,
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump() for b in msg.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
            },
        ],
    )
    assert follow.content[0].text == "tool result: sunny"


def test_tool_use_streaming(claude):
    with claude.messages.stream(
        model=VIRTUAL_MODEL,
        max_tokens=100,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "weather?"}],
    ) as stream:
        partials = [e.partial_json for e in stream if e.type == "input_json"]
        final = stream.get_final_message()
    assert len(partials) > 1, "arguments arrive in pieces"
    assert json.loads("".join(partials)) == {"city": "x"}
    (call,) = final.content
    assert call.type == "tool_use" and call.input == {"city": "x"}
    assert final.stop_reason == "tool_use"


def test_count_tokens(claude):
    count = claude.messages.count_tokens(
        model=VIRTUAL_MODEL,
        system="abcd",
        messages=[{"role": "user", "content": "hello world!"}],
    )
    assert count.input_tokens == 4


def test_errors_are_typed(claude, mock_control):
    with pytest.raises(anthropic.NotFoundError) as err:
        claude.messages.create(
            model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert err.value.body["error"]["type"] == "not_found_error"

    mock_control.push({"type": "status", "status": 400})
    with pytest.raises(anthropic.BadRequestError) as err:
        claude.messages.create(
            model=VIRTUAL_MODEL, max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert err.value.body["error"]["type"] == "invalid_request_error"


# --- an OpenAI client, an Anthropic upstream -------------------------------------------------

ANTHROPIC_UPSTREAM = """\
[providers.claude]
wire_format = "anthropic"
base_url = "{mock_url}/v1"
auth = "header:x-api-key"
keys = ["sk-ant-test"]

[providers.claude.models."claude-x"]
max_output_tokens = 1000
"""


@pytest.fixture(scope="module")
def anthropic_gateway(stack, tmp_path_factory):
    config = tmp_path_factory.mktemp("anthropic-upstream") / "switchboard.toml"
    config.write_text(ANTHROPIC_UPSTREAM.format(mock_url=stack.mock_url), encoding="utf-8")
    gw = start_gateway(config, log_name="python-gateway-anthropic-upstream.log")
    yield gw
    gw.stop()


@pytest.fixture
def gpt_client(anthropic_gateway) -> openai.OpenAI:
    c = openai.OpenAI(
        base_url=f"{anthropic_gateway.url}/v1", api_key="test", max_retries=0, timeout=CLIENT_TIMEOUT_S
    )
    yield c
    c.close()


def test_openai_chat_through_an_anthropic_upstream(gpt_client):
    resp = gpt_client.chat.completions.create(
        model="claude/claude-x",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}],
    )
    assert resp.model == "claude/claude-x"
    assert resp.choices[0].message.content == "echo: hello there"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.prompt_tokens == 4 and resp.usage.completion_tokens == 3


def test_openai_stream_and_tools_through_an_anthropic_upstream(gpt_client):
    stream = gpt_client.chat.completions.create(
        model="claude/claude-x",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "one two three"}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4

    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    resp = gpt_client.chat.completions.create(
        model="claude/claude-x", tools=tools, messages=[{"role": "user", "content": "weather?"}]
    )
    (call,) = resp.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "x"}
    assert resp.choices[0].finish_reason == "tool_calls"
