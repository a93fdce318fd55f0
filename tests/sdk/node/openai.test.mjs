// The official `openai` npm SDK against the gateway, which routes to the mock provider
// (see tests/sdk/python/test_openai_sdk.py for the mock's echo replies).

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { loadOpenAI, QUALIFIED_MODEL, startStack, VIRTUAL_MODEL } from './harness.mjs';

const { OpenAI } = loadOpenAI();

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

function assertUsage(usage) {
  assert.ok(usage, 'response has no usage');
  for (const field of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
    assert.ok(Number.isInteger(usage[field]) && usage[field] >= 0, `usage.${field} = ${usage[field]}`);
  }
}

describe('openai npm SDK through the gateway', () => {
  let stack;
  let client;

  before(async () => {
    stack = await startStack();
    // maxRetries 0: an SDK retry would hide what the gateway answered first.
    client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: 'test', maxRetries: 0, timeout: 30_000 });
  });

  after(async () => {
    if (stack) {
      const { code, signal } = await stack.stop();
      assert.equal(code, 0, `gateway exit after SIGTERM: code ${code}, signal ${signal}`);
    }
  });

  beforeEach(async () => {
    await stack.resetMock();
  });

  // Wraps a test body so that a failure carries the tail of the processes' logs.
  const withLogs = (fn) => async () => {
    try {
      await fn();
    } catch (err) {
      err.message += `\n${stack.logs()}`;
      throw err;
    }
  };

  it('non-streamed chat', withLogs(async () => {
    const resp = await client.chat.completions.create({
      model: QUALIFIED_MODEL,
      messages: [{ role: 'user', content: 'hello there' }],
    });
    assert.equal(resp.object, 'chat.completion');
    assert.equal(resp.model, QUALIFIED_MODEL);
    assert.equal(resp.choices[0].message.content, 'echo: hello there');
    assert.equal(resp.choices[0].finish_reason, 'stop');
    assertUsage(resp.usage);
  }));

  it('streamed chat', withLogs(async () => {
    const stream = await client.chat.completions.create({
      model: QUALIFIED_MODEL,
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
    });
    let text = '';
    const models = new Set();
    const finish = [];
    for await (const chunk of stream) {
      models.add(chunk.model);
      const choice = chunk.choices[0];
      if (!choice) continue;
      text += choice.delta?.content ?? '';
      if (choice.finish_reason) finish.push(choice.finish_reason);
    }
    assert.equal(text, 'echo: stream me');
    assert.deepEqual([...models], [QUALIFIED_MODEL]);
    assert.deepEqual(finish, ['stop']);
  }));

  it('streamed chat with the stream helper and a virtual model', withLogs(async () => {
    const runner = client.chat.completions.stream({
      model: VIRTUAL_MODEL,
      messages: [{ role: 'user', content: 'via alias' }],
    });
    const final = await runner.finalChatCompletion();
    assert.equal(final.model, VIRTUAL_MODEL);
    assert.equal(final.choices[0].message.content, 'echo: via alias');
  }));

  it('tool call round trip', withLogs(async () => {
    const messages = [{ role: 'user', content: "What's the weather in Paris?" }];
    const first = await client.chat.completions.create({ model: QUALIFIED_MODEL, messages, tools: [WEATHER_TOOL] });
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls?.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'x' });

    messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: 'sunny, 21C' });
    const second = await client.chat.completions.create({ model: QUALIFIED_MODEL, messages, tools: [WEATHER_TOOL] });
    assert.equal(second.choices[0].message.content, 'tool result: sunny, 21C');
  }));

  it('embeddings with the default (base64) encoding', withLogs(async () => {
    const resp = await client.embeddings.create({ model: QUALIFIED_MODEL, input: ['alpha', 'beta'] });
    assert.equal(resp.data.length, 2);
    for (const [i, d] of resp.data.entries()) {
      assert.equal(d.index, i);
      assert.ok(Array.isArray(d.embedding), `embedding is ${typeof d.embedding}`);
      assert.equal(d.embedding.length, 8);
      assert.ok(d.embedding.every((x) => typeof x === 'number' && Number.isFinite(x)));
    }
    const flt = await client.embeddings.create({ model: QUALIFIED_MODEL, input: ['alpha', 'beta'], encoding_format: 'float' });
    for (const [i, d] of flt.data.entries()) {
      d.embedding.forEach((x, j) => assert.ok(Math.abs(x - resp.data[i].embedding[j]) <= 1e-6 * Math.max(1, Math.abs(x))));
    }
  }));

  it('models.list', withLogs(async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes(VIRTUAL_MODEL), JSON.stringify(ids));
    assert.ok(ids.includes(QUALIFIED_MODEL), JSON.stringify(ids));
  }));

  it('unknown model is a NotFoundError naming the closest model', withLogs(async () => {
    await assert.rejects(
      // Unqualified names must resolve; "mock/<anything>" is passed through to the provider by design.
      client.chat.completions.create({ model: 'gpt-4o-mni', messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, `${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, 404);
        assert.ok(err.message.includes(QUALIFIED_MODEL), err.message);
        return true;
      },
    );
  }));
});
