"""The official Python `openai` SDK against the gateway, which routes to the mock provider.

The mock's default ("echo") replies: chat answers "echo: <last user text>"; with tools and a
user message last it calls the first tool with every required string argument set to "x"; after
a tool result it answers "tool result: <content>". Its `model` field is the requested model +
"-0001": the gateway must give back the name the client asked for.
"""

from __future__ import annotations

import base64
import json
import math
import struct

import httpx
import openai
import pytest

from conftest import QUALIFIED_MODEL, VIRTUAL_MODEL, gateway_config, start_gateway

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def _assert_usage(usage) -> None:
    assert usage is not None, "response has no usage"
    for field in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = getattr(usage, field)
        assert isinstance(value, int) and value >= 0, f"usage.{field} = {value!r}"
    assert usage.total_tokens >= usage.prompt_tokens + usage.completion_tokens, usage


# --- chat -----------------------------------------------------------------------------------


def test_chat_non_streaming(client):
    resp = client.chat.completions.create(
        model=QUALIFIED_MODEL,
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert resp.object == "chat.completion"
    assert resp.id
    assert resp.model == QUALIFIED_MODEL
    assert len(resp.choices) == 1
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "echo: hello there"
    assert choice.finish_reason == "stop"
    _assert_usage(resp.usage)


def test_chat_streaming(client):
    stream = client.chat.completions.create(
        model=QUALIFIED_MODEL,
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
    )
    chunks = list(stream)
    assert chunks, "no chunks"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me"
    models = {c.model for c in chunks}
    assert models == {QUALIFIED_MODEL}, f"chunk model names: {models}"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"], finish


def test_chat_streaming_with_usage(client):
    stream = client.chat.completions.create(
        model=QUALIFIED_MODEL,
        messages=[{"role": "user", "content": "count me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: count me"
    assert {c.model for c in chunks} == {QUALIFIED_MODEL}
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1, f"{len(usage_chunks)} chunks carry usage"
    assert usage_chunks[0] is chunks[-1], "the usage chunk is not the last one"
    _assert_usage(usage_chunks[0].usage)


def test_chat_streaming_helper(client):
    # The SDK's higher-level stream helper accumulates the deltas into a final completion.
    with client.chat.completions.stream(
        model=QUALIFIED_MODEL,
        messages=[{"role": "user", "content": "helper"}],
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "echo: helper"
    assert final.model == QUALIFIED_MODEL


def test_tool_call_round_trip(client):
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = client.chat.completions.create(model=QUALIFIED_MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert first.model == QUALIFIED_MODEL
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls and len(calls) == 1, calls
    call = calls[0]
    assert call.type == "function"
    assert call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "x"}

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"})
    second = client.chat.completions.create(model=QUALIFIED_MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "tool result: sunny, 21C"
    assert second.choices[0].finish_reason == "stop"


def test_tool_call_streaming(client):
    stream = client.chat.completions.create(
        model=QUALIFIED_MODEL,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    name, args, call_id, finish = "", "", None, None
    for chunk in stream:
        assert chunk.model == QUALIFIED_MODEL
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for tc in delta.tool_calls or []:
            assert tc.index == 0
            call_id = call_id or tc.id
            if tc.function and tc.function.name:
                name += tc.function.name
            if tc.function and tc.function.arguments:
                args += tc.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert call_id
    assert name == "get_weather"
    assert json.loads(args) == {"city": "x"}
    assert finish == "tool_calls"


def test_virtual_model(client):
    resp = client.chat.completions.create(
        model=VIRTUAL_MODEL,
        messages=[{"role": "user", "content": "via alias"}],
    )
    assert resp.model == VIRTUAL_MODEL
    assert resp.choices[0].message.content == "echo: via alias"

    chunks = list(
        client.chat.completions.create(
            model=VIRTUAL_MODEL,
            messages=[{"role": "user", "content": "via alias"}],
            stream=True,
        )
    )
    assert {c.model for c in chunks} == {VIRTUAL_MODEL}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: via alias"


# --- embeddings -----------------------------------------------------------------------------


def _check_vector(vec) -> None:
    assert isinstance(vec, list), type(vec)
    assert len(vec) == 8, len(vec)
    assert all(isinstance(x, float) and math.isfinite(x) for x in vec), vec


def test_embeddings_default_encoding(client):
    # The SDK asks for base64 when no encoding_format is given, and decodes it to floats.
    resp = client.embeddings.create(model=QUALIFIED_MODEL, input="hello")
    assert resp.object == "list"
    assert resp.model == QUALIFIED_MODEL
    assert len(resp.data) == 1
    assert resp.data[0].index == 0
    _check_vector(resp.data[0].embedding)
    assert resp.usage is not None and resp.usage.prompt_tokens >= 0


def test_embeddings_float_matches_base64(client):
    b64 = client.embeddings.create(model=QUALIFIED_MODEL, input=["alpha", "beta"])
    flt = client.embeddings.create(model=QUALIFIED_MODEL, input=["alpha", "beta"], encoding_format="float")
    assert [d.index for d in flt.data] == [0, 1]
    assert [d.index for d in b64.data] == [0, 1]
    for a, b in zip(b64.data, flt.data):
        _check_vector(a.embedding)
        _check_vector(b.embedding)
        # base64 carries little-endian float32: equal up to float32 precision.
        assert a.embedding == pytest.approx(b.embedding, rel=1e-6, abs=1e-6)
    assert flt.data[0].embedding != flt.data[1].embedding, "different inputs gave the same vector"
    again = client.embeddings.create(model=QUALIFIED_MODEL, input=["alpha", "beta"], encoding_format="float")
    assert [d.embedding for d in again.data] == [d.embedding for d in flt.data], "not deterministic"


def test_embeddings_base64_on_the_wire(stack):
    # What the SDK relies on: with encoding_format=base64 the gateway returns strings of packed float32.
    r = httpx.post(
        f"{stack.gateway_url}/v1/embeddings",
        json={"model": QUALIFIED_MODEL, "input": "hello", "encoding_format": "base64"},
        headers={"authorization": "Bearer test"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    emb = r.json()["data"][0]["embedding"]
    assert isinstance(emb, str), f"expected a base64 string, got {type(emb).__name__}"
    raw = base64.b64decode(emb)
    assert len(raw) == 8 * 4
    assert all(math.isfinite(x) for x in struct.unpack("<8f", raw))


# --- legacy completions, models -------------------------------------------------------------


def test_legacy_completions(client):
    resp = client.completions.create(model=QUALIFIED_MODEL, prompt="say something", max_tokens=16)
    assert resp.object == "text_completion"
    assert resp.model == QUALIFIED_MODEL
    assert len(resp.choices) == 1
    assert resp.choices[0].text == "echo: say something"
    assert resp.choices[0].finish_reason in ("stop", "length")
    _assert_usage(resp.usage)


def test_legacy_completions_streaming(client):
    chunks = list(client.completions.create(model=QUALIFIED_MODEL, prompt="stream it", stream=True))
    assert chunks
    assert {c.model for c in chunks} == {QUALIFIED_MODEL}
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "echo: stream it"


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert VIRTUAL_MODEL in ids, ids
    assert QUALIFIED_MODEL in ids, ids
    assert len(ids) == len(set(ids)), f"duplicate ids: {ids}"


def test_models_retrieve(client):
    m = client.models.retrieve(VIRTUAL_MODEL)
    assert m.id == VIRTUAL_MODEL
    assert m.object == "model"


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unknown", "closest"),
    [("gpt-4o-mni", QUALIFIED_MODEL), ("fats", VIRTUAL_MODEL)],
)
def test_unknown_model_is_not_found(client, mock_control, unknown, closest):
    # Unqualified names must resolve; "mock/<anything>" is passed through to the provider by design.
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(
            model=unknown,
            messages=[{"role": "user", "content": "hi"}],
        )
    err = info.value
    assert err.status_code == 404
    assert closest in err.message, err.message
    assert mock_control.calls() == 0, "an unknown model reached the provider"


def test_upstream_rate_limit_is_429(client, mock_control):
    mock_control.push({"type": "status", "status": 429, "retry_after": 1})
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model=QUALIFIED_MODEL,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert info.value.status_code == 429
    # The script is spent: the next request is served normally.
    ok = client.chat.completions.create(model=QUALIFIED_MODEL, messages=[{"role": "user", "content": "again"}])
    assert ok.choices[0].message.content == "echo: again"


def test_scripted_text_reply(client, mock_control):
    mock_control.push({"type": "text", "content": "scripted hi"})
    resp = client.chat.completions.create(model=QUALIFIED_MODEL, messages=[{"role": "user", "content": "x"}])
    assert resp.choices[0].message.content == "scripted hi"
    assert mock_control.calls() == 1


# --- process contract -----------------------------------------------------------------------


def test_gateway_exits_zero_on_sigterm(stack, tmp_path):
    # A second gateway on the same config, started and stopped on its own.
    config = tmp_path / "switchboard.toml"
    config.write_text(gateway_config(stack.mock_url), encoding="utf-8")
    gw = start_gateway(config, log_name="python-gateway-sigterm.log")
    r = httpx.get(f"{gw.url}/v1/models", timeout=10)
    assert r.status_code == 200, r.text
    code = gw.stop()
    assert code == 0, f"exit code {code} after SIGTERM\n{gw.log_tail()}"
