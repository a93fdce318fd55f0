"""The official Python `ollama` client against the gateway's Ollama API (`/api/chat`,
`/api/generate`, `/api/embed`, `/api/tags`, …), which translates to the mock provider speaking
the OpenAI wire format. The client is pointed at the gateway with `Client(host=...)` and uses
its defaults otherwise.

The mock's echo replies (see test_openai_sdk.py): "echo: <last user text>"; with tools offered
and a user message last it calls the first tool with every required string argument "x"; after
a tool result it answers "tool result: <content>".
"""

from __future__ import annotations

import httpx
import ollama
import pytest

from conftest import CLIENT_TIMEOUT_S, QUALIFIED_MODEL, VIRTUAL_MODEL

WEATHER = {
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


@pytest.fixture
def client(stack) -> ollama.Client:
    return ollama.Client(host=stack.gateway_url, timeout=CLIENT_TIMEOUT_S)


def test_server_answers_like_ollama(stack):
    root = httpx.get(stack.gateway_url + "/", timeout=CLIENT_TIMEOUT_S)
    assert root.status_code == 200 and root.text == "Ollama is running"
    version = httpx.get(stack.gateway_url + "/api/version", timeout=CLIENT_TIMEOUT_S).json()
    major, minor, _patch = (int(p) for p in version["version"].split("."))
    assert (major, minor) >= (0, 5)


def test_chat(client):
    resp = client.chat(
        model=VIRTUAL_MODEL,
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"},
        ],
        options={"temperature": 0.2, "num_predict": 50},
    )
    assert resp.model == VIRTUAL_MODEL
    assert resp.message.role == "assistant"
    assert resp.message.content == "echo: hello there"
    assert resp.done is True
    assert resp.done_reason == "stop"
    assert resp.prompt_eval_count == 4 and resp.eval_count == 3
    assert resp.total_duration > 0
    assert resp.created_at.endswith("Z")


def test_chat_stream(client):
    parts = list(
        client.chat(
            model=QUALIFIED_MODEL,
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
        )
    )
    assert len(parts) >= 3
    assert all(not p.done for p in parts[:-1])
    assert "".join(p.message.content or "" for p in parts) == "echo: one two three"
    last = parts[-1]
    assert last.done is True and last.done_reason == "stop"
    assert last.prompt_eval_count == 3 and last.eval_count == 4


def test_generate(client):
    resp = client.generate(model=VIRTUAL_MODEL, prompt="why is the sky blue", system="be brief")
    assert resp.response == "echo: why is the sky blue"
    assert resp.done is True
    parts = list(client.generate(model=VIRTUAL_MODEL, prompt="one two", stream=True))
    assert "".join(p.response for p in parts) == "echo: one two"


def test_tools_round_trip(client):
    first = client.chat(
        model=VIRTUAL_MODEL,
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[WEATHER],
    )
    calls = first.message.tool_calls
    assert calls and calls[0].function.name == "get_weather"
    assert calls[0].function.arguments == {"city": "x"}
    second = client.chat(
        model=VIRTUAL_MODEL,
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            first.message,
            {"role": "tool", "tool_name": "get_weather", "content": "sunny"},
        ],
        tools=[WEATHER],
    )
    assert second.message.content == "tool result: sunny"


def test_embed(client):
    resp = client.embed(model=VIRTUAL_MODEL, input=["first text", "second text"])
    assert len(resp.embeddings) == 2
    assert len(resp.embeddings[0]) > 0
    assert resp.embeddings[0] != resp.embeddings[1]
    single = client.embed(model=VIRTUAL_MODEL, input="first text")
    assert single.embeddings[0] == resp.embeddings[0]


def test_list_and_show(client):
    names = [m.model for m in client.list().models]
    assert VIRTUAL_MODEL in names
    shown = client.show(VIRTUAL_MODEL)
    assert "completion" in shown.capabilities
    assert client.ps().models == []


def test_unknown_model_is_a_response_error(client):
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 404
    assert "no-such-model" in err.value.error
