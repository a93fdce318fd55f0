"""The official Python `openai` SDK's Responses API (`client.responses`) against the gateway's
`/v1/responses`, which translates to the mock provider speaking OpenAI chat completions.

The mock's echo replies (see test_openai_sdk.py): "echo: <last user text>"; with tools offered
and a user message last it calls the first tool with every required string argument "x"; after
a tool result it answers "tool result: <content>".
"""

from __future__ import annotations

import json

import openai
import pytest

from conftest import QUALIFIED_MODEL, VIRTUAL_MODEL

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def test_responses_create(client):
    r = client.responses.create(
        model=VIRTUAL_MODEL,
        instructions="be brief",
        input="hello there",
        max_output_tokens=100,
    )
    assert r.id.startswith("resp_")
    assert r.object == "response"
    assert r.status == "completed"
    assert r.model == VIRTUAL_MODEL
    assert r.instructions == "be brief"
    assert r.output_text == "echo: hello there"
    assert [item.type for item in r.output] == ["message"]
    assert r.output[0].content[0].type == "output_text"
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    assert r.usage.input_tokens_details.cached_tokens == 0


def test_responses_stream_text(client):
    with client.responses.stream(model=QUALIFIED_MODEL, input="hello there") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "echo: hello there"
    numbers = [e.sequence_number for e in events]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert final.output_text == "echo: hello there"
    assert final.status == "completed"
    assert final.usage.output_tokens > 0


def test_responses_stream_function_call_then_its_output(client):
    with client.responses.stream(
        model=VIRTUAL_MODEL,
        input="weather in Paris?",
        tools=[WEATHER_TOOL],
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert "response.function_call_arguments.delta" in types
    assert "response.function_call_arguments.done" in types
    [call] = final.output
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "x"}
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert args == call.arguments

    follow = client.responses.create(
        model=VIRTUAL_MODEL,
        previous_response_id=final.id,
        tools=[WEATHER_TOOL],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert follow.output_text == "tool result: sunny"
    assert follow.previous_response_id == final.id


def test_previous_response_id_and_retrieve(client):
    first = client.responses.create(model=VIRTUAL_MODEL, input="my name is Ada")
    second = client.responses.create(
        model=VIRTUAL_MODEL, input="what is my name?", previous_response_id=first.id
    )
    assert second.output_text == "echo: what is my name?"
    assert second.previous_response_id == first.id
    # The second turn's input held the first turn: more input tokens than the question alone.
    alone = client.responses.create(model=VIRTUAL_MODEL, input="what is my name?")
    assert second.usage.input_tokens > alone.usage.input_tokens

    got = client.responses.retrieve(first.id)
    assert got.id == first.id
    assert got.output_text == "echo: my name is Ada"

    with pytest.raises(openai.NotFoundError) as e:
        client.responses.create(
            model=VIRTUAL_MODEL, input="hi", previous_response_id="resp_does_not_exist"
        )
    assert e.value.code == "previous_response_not_found"


def test_unsupported_tools_are_a_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(
            model=VIRTUAL_MODEL, input="hi", tools=[{"type": "code_interpreter", "container": {"type": "auto"}}]
        )
    assert "code_interpreter" in str(e.value)


def test_upstream_errors_reach_the_sdk(client, mock_control):
    mock_control.push({"type": "status", "status": 429, "retry_after": 1})
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model=QUALIFIED_MODEL, input="hi")

    # Cut after the stream began: the SDK raises on the error event that ends it.
    mock_control.push({"type": "drop_mid_stream", "after_chunks": 2})
    with pytest.raises(openai.APIError):
        with client.responses.stream(model=QUALIFIED_MODEL, input="hi") as stream:
            for _ in stream:
                pass


def test_responses_parse_with_a_text_format(client, mock_control):
    import pydantic

    class Weather(pydantic.BaseModel):
        city: str
        celsius: int

    mock_control.push({"type": "text", "content": '{"city": "Paris", "celsius": 21}'})
    r = client.responses.parse(model=VIRTUAL_MODEL, input="weather?", text_format=Weather)
    assert r.output_parsed == Weather(city="Paris", celsius=21)
    assert r.text.format.type == "json_schema"
