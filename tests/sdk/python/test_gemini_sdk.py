"""The official Python `google-genai` SDK against the gateway's Gemini API endpoints
(`/v1beta/models/{model}:generateContent` and friends), which translate to the mock provider
speaking the OpenAI wire format. The SDK is pointed at the gateway with `http_options.base_url`
and uses its defaults otherwise (API version `v1beta`, the key in `x-goog-api-key`).

The mock's echo replies (see test_openai_sdk.py): "echo: <last user text>"; with tools offered
and a user message last it calls the first tool with every required string argument "x"; after
a tool result it answers "tool result: <content>".
"""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types

from conftest import CLIENT_TIMEOUT_S, QUALIFIED_MODEL, VIRTUAL_MODEL

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Current weather in a city.",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"city": types.Schema(type=types.Type.STRING)},
        required=["city"],
    ),
)

NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)


@pytest.fixture
def gemini(stack) -> genai.Client:
    c = genai.Client(
        api_key="test",
        http_options=types.HttpOptions(
            base_url=stack.gateway_url, timeout=int(CLIENT_TIMEOUT_S * 1000)
        ),
    )
    yield c
    c.close()


def test_generate_content(gemini):
    resp = gemini.models.generate_content(
        model=VIRTUAL_MODEL,
        contents="hello there",
        config=types.GenerateContentConfig(
            system_instruction="be brief", max_output_tokens=100, temperature=0.2
        ),
    )
    assert resp.text == "echo: hello there"
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP
    assert resp.candidates[0].content.role == "model"
    assert resp.model_version == VIRTUAL_MODEL
    usage = resp.usage_metadata
    # The mock counts words across all messages: "be brief hello there".
    assert usage.prompt_token_count == 4
    assert usage.candidates_token_count == 3
    assert usage.total_token_count == 7


def test_generate_content_stream(gemini):
    chunks = list(
        gemini.models.generate_content_stream(model=QUALIFIED_MODEL, contents="one two three")
    )
    assert len(chunks) >= 3, "the answer arrives in pieces"
    assert "".join(c.text or "" for c in chunks) == "echo: one two three"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.total_token_count > 0


def test_function_calling_round_trip(gemini):
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        automatic_function_calling=NO_AFC,
    )
    question = types.Content(role="user", parts=[types.Part.from_text(text="weather in Oslo?")])
    resp = gemini.models.generate_content(model=VIRTUAL_MODEL, contents=[question], config=config)
    [call] = resp.function_calls
    assert call.name == "get_weather"
    assert call.args == {"city": "x"}

    answer = types.Content(
        role="user",
        parts=[types.Part.from_function_response(name="get_weather", response={"result": "sunny"})],
    )
    resp = gemini.models.generate_content(
        model=VIRTUAL_MODEL, contents=[question, resp.candidates[0].content, answer], config=config
    )
    assert resp.text == "tool result: sunny"


def test_streamed_function_call_arrives_whole(gemini):
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        automatic_function_calling=NO_AFC,
    )
    calls = [
        fc
        for chunk in gemini.models.generate_content_stream(
            model=VIRTUAL_MODEL, contents="weather?", config=config
        )
        for fc in (chunk.function_calls or [])
    ]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "x"})]


def test_automatic_function_calling(gemini):
    seen = []

    def get_weather(city: str) -> str:
        """Current weather in a city."""
        seen.append(city)
        return f"sunny in {city}"

    resp = gemini.models.generate_content(
        model=VIRTUAL_MODEL,
        contents="weather in Oslo?",
        config=types.GenerateContentConfig(tools=[get_weather]),
    )
    assert seen == ["x"], "the SDK ran the function the model called"
    assert resp.text == "tool result: sunny in x"


def test_count_tokens_and_models(gemini):
    assert gemini.models.count_tokens(model=VIRTUAL_MODEL, contents="hello world!").total_tokens == 3
    names = [m.name for m in gemini.models.list()]
    assert f"models/{VIRTUAL_MODEL}" in names
    model = gemini.models.get(model=VIRTUAL_MODEL)
    assert model.input_token_limit == 128000
    assert "generateContent" in model.supported_actions


def test_unknown_model_is_not_found(gemini, mock_control):
    with pytest.raises(errors.ClientError) as e:
        gemini.models.generate_content(model="no-such-model", contents="x")
    assert e.value.code == 404
    assert e.value.status == "NOT_FOUND"
    assert mock_control.calls() == 0


def test_v1beta_as_the_api_version(stack):
    c = genai.Client(
        api_key="test",
        http_options=types.HttpOptions(
            base_url=stack.gateway_url, api_version="v1beta", timeout=int(CLIENT_TIMEOUT_S * 1000)
        ),
    )
    try:
        text = "".join(
            chunk.text or ""
            for chunk in c.models.generate_content_stream(model=VIRTUAL_MODEL, contents="a b")
        )
        assert text == "echo: a b"
        assert f"models/{VIRTUAL_MODEL}" in [m.name for m in c.models.list()]
    finally:
        c.close()


def test_embed_content(gemini):
    resp = gemini.models.embed_content(
        model="mock/text-embedding-3-small", contents=["hello", "world"]
    )
    assert len(resp.embeddings) == 2
    assert all(len(e.values) == 8 for e in resp.embeddings)
    assert resp.embeddings[0].values != resp.embeddings[1].values
