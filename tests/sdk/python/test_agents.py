"""The real coding agents through the gateway: Claude Code (`claude -p`) and the Codex CLI
(`codex exec`), run as subprocesses against a gateway whose providers are the mock speaking
the Anthropic wire format (`anth/…`) and the OpenAI chat wire format (`oai/…`).

Claude Code speaks Anthropic Messages (`POST /v1/messages?beta=true`, always streaming, about
two dozen tools, thinking, `anthropic-beta` flags); the Codex CLI speaks only the Responses API
(streaming, its own function tools plus `namespace` and hosted `web_search` tools). Each test
scripts the mock's replies, runs the agent once and asserts on the agent's output and on the
requests the mock recorded.

The CLIs come from tests/sdk/agents/package-lock.json, installed by scripts/test into
target/sdk/agents (SWITCHBOARD_SDK_AGENTS_DIR). Without them these tests fail, they do not skip.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, start_gateway

AGENTS_DIR = Path(os.environ.get("SWITCHBOARD_SDK_AGENTS_DIR") or REPO / "target" / "sdk" / "agents")
# One agent run: start-up, one or two model turns against the mock, a tool execution.
AGENT_TIMEOUT_S = 90

ANTHROPIC_MODEL = "anth/claude-sonnet-4-5"
OPENAI_MODEL = "oai/gpt-4o-mini"
UPSTREAM_KEY = "sk-ant-upstream"

GATEWAY_CONFIG = """\
[providers.anth]
wire_format = "anthropic"
base_url = "{mock_url}/v1"
auth = "header:x-api-key"
keys = ["{key}"]

[providers.anth.models."claude-sonnet-4-5"]
max_output_tokens = 64000

[providers.oai]
wire_format = "openai"
base_url = "{mock_url}/v1"
auth = "none"

[providers.oai.models."gpt-4o-mini"]
context_window = 128000
"""

# Which mock route each upstream's requests arrive on.
UPSTREAM_PATH = {ANTHROPIC_MODEL: "/v1/messages", OPENAI_MODEL: "/v1/chat/completions"}
BOTH_UPSTREAMS = pytest.mark.parametrize(
    "model", [ANTHROPIC_MODEL, OPENAI_MODEL], ids=["anthropic-upstream", "openai-upstream"]
)


def cli(name: str) -> Path:
    path = AGENTS_DIR / "node_modules" / ".bin" / name
    if not path.exists():
        pytest.fail(
            f"{path} not found: scripts/test installs the coding agents from "
            "tests/sdk/agents/package-lock.json (run `scripts/test --agents`)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def gateway(stack, tmp_path_factory):
    config = tmp_path_factory.mktemp("agents") / "switchboard.toml"
    config.write_text(GATEWAY_CONFIG.format(mock_url=stack.mock_url, key=UPSTREAM_KEY), encoding="utf-8")
    gw = start_gateway(config, log_name="python-gateway-agents.log")
    yield gw
    gw.stop()


@pytest.fixture
def workdir(tmp_path) -> Path:
    """The agent's working directory, with a file for it to read."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "note.txt").write_text("the secret word is marmalade\n", encoding="utf-8")
    return work


def agent_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no provider keys or base URLs from the caller's shell."""
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    env.update(HOME=str(home), TERM="dumb", NO_COLOR="1", CI="1")
    env.update(extra)
    return env


def run_agent(argv: list, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(
            [str(a) for a in argv],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=AGENT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(
            f"{Path(argv[0]).name} did not finish within {AGENT_TIMEOUT_S}s\n"
            f"stdout: {e.stdout}\nstderr: {e.stderr}"
        )
    return proc


def upstream_requests(mock_control, model: str) -> list[dict]:
    path = UPSTREAM_PATH[model]
    return [r for r in mock_control.requests() if r["path"] == path and r["method"] == "POST"]


# --- Claude Code ------------------------------------------------------------------------------


def claude(gateway, tmp_path: Path, cwd: Path, prompt: str, model: str, *extra: str) -> dict:
    home = tmp_path / "claude-home"
    home.mkdir(exist_ok=True)
    env = agent_env(
        home,
        ANTHROPIC_BASE_URL=gateway.url,
        ANTHROPIC_API_KEY="sk-client",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    argv = [cli("claude"), "-p", prompt, "--model", model, "--output-format", "json", *extra]
    proc = run_agent(argv, env, cwd)
    lines = [line for line in proc.stdout.splitlines() if line.strip().startswith("{")]
    assert lines, f"claude printed no JSON (exit {proc.returncode})\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    result = json.loads(lines[-1])
    assert result.get("is_error") is False, f"claude reported an error: {result}\nstderr: {proc.stderr}"
    return result


def anthropic_stream(*events: dict) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


@BOTH_UPSTREAMS
def test_claude_code_prompt(gateway, mock_control, tmp_path, workdir, model):
    mock_control.push({"type": "text", "content": "Hello from the mock, via Switchboard."})
    result = claude(gateway, tmp_path, workdir, "Say hello.", model)
    assert result["result"] == "Hello from the mock, via Switchboard."

    (req,) = upstream_requests(mock_control, model)
    body = req["body"]
    assert body["stream"] is True
    names = {t.get("name") or t.get("function", {}).get("name") for t in body["tools"]}
    assert {"Bash", "Read", "Edit"} <= names, names
    if model == ANTHROPIC_MODEL:
        # The same-dialect path: Claude Code's beta flags and thinking reach the provider, with
        # the provider's key in place of the client's.
        betas = req["headers"].get("anthropic-beta", "")
        assert "claude-code-20250219" in betas and "interleaved-thinking-2025-05-14" in betas, betas
        assert req["headers"].get("x-api-key") == UPSTREAM_KEY
        assert body["model"] == "claude-sonnet-4-5"
        assert body["thinking"]["type"] == "enabled"
    else:
        assert body["model"] == "gpt-4o-mini"
        assert all(t["type"] == "function" for t in body["tools"])


@BOTH_UPSTREAMS
def test_claude_code_tool_round_trip(gateway, mock_control, tmp_path, workdir, model):
    note = workdir / "note.txt"
    mock_control.push(
        {"type": "tool_call", "name": "Read", "arguments": json.dumps({"file_path": str(note)}), "id": "toolu_read1"}
    )
    mock_control.push({"type": "echo"})  # "tool result: <what Read returned>"
    mock_control.set_default({"type": "text", "content": "(an unexpected extra request)"})
    result = claude(gateway, tmp_path, workdir, "What is the secret word in note.txt?", model, "--allowedTools", "Read")
    assert "marmalade" in result["result"], result["result"]

    reqs = upstream_requests(mock_control, model)
    assert len(reqs) == 2, [r["body"]["messages"][-1] for r in reqs]
    messages = reqs[1]["body"]["messages"]
    if model == ANTHROPIC_MODEL:
        results = [b for b in messages[-1]["content"] if b.get("type") == "tool_result"]
        assert [r["tool_use_id"] for r in results] == ["toolu_read1"]
        assert "marmalade" in json.dumps(results[0]["content"])
    else:
        (call,) = [m for m in messages if m.get("tool_calls")][-1]["tool_calls"]
        assert call["id"] == "toolu_read1" and call["function"]["name"] == "Read"
        tool_msgs = [m for m in messages if m["role"] == "tool"]
        assert [m["tool_call_id"] for m in tool_msgs] == ["toolu_read1"]
        assert "marmalade" in json.dumps(tool_msgs[0]["content"])


def test_claude_code_thinking_signature_round_trip(gateway, mock_control, tmp_path, workdir):
    note = workdir / "note.txt"
    usage = {"input_tokens": 12, "output_tokens": 1}
    mock_control.push(
        {
            "type": "raw",
            "status": 200,
            "headers": [["content-type", "text/event-stream"]],
            "body": anthropic_stream(
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_think1",
                        "type": "message",
                        "role": "assistant",
                        "model": "claude-sonnet-4-5",
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": usage,
                    },
                },
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                },
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": "The note should say. "},
                },
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": "I will read it."},
                },
                {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "c2lnLTQy"}},
                {"type": "content_block_stop", "index": 0},
                {
                    "type": "content_block_start",
                    "index": 1,
                    "content_block": {"type": "tool_use", "id": "toolu_think1", "name": "Read", "input": {}},
                },
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": json.dumps({"file_path": str(note)})},
                },
                {"type": "content_block_stop", "index": 1},
                {
                    "type": "message_delta",
                    "delta": {"type": "message_delta", "stop_reason": "tool_use", "stop_sequence": None},
                    "usage": {"output_tokens": 30},
                },
                {"type": "message_stop"},
            ),
        }
    )
    mock_control.push({"type": "echo"})
    mock_control.set_default({"type": "text", "content": "(an unexpected extra request)"})
    result = claude(gateway, tmp_path, workdir, "What does note.txt say?", ANTHROPIC_MODEL, "--allowedTools", "Read")
    assert "marmalade" in result["result"], result["result"]

    reqs = upstream_requests(mock_control, ANTHROPIC_MODEL)
    assert len(reqs) == 2
    assistant = [m for m in reqs[1]["body"]["messages"] if m["role"] == "assistant"][-1]
    thinking = [b for b in assistant["content"] if b["type"] == "thinking"]
    assert thinking == [
        {"type": "thinking", "thinking": "The note should say. I will read it.", "signature": "c2lnLTQy"}
    ], assistant["content"]
    assert [b["id"] for b in assistant["content"] if b["type"] == "tool_use"] == ["toolu_think1"]


# --- Codex CLI --------------------------------------------------------------------------------

CODEX_CONFIG = """\
model = "{model}"
model_provider = "switchboard"

[model_providers.switchboard]
name = "Switchboard"
base_url = "{gateway_url}/v1"
env_key = "SWITCHBOARD_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""


def codex(gateway, tmp_path: Path, cwd: Path, prompt: str, model: str) -> str:
    home = tmp_path / "codex-home"
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(CODEX_CONFIG.format(model=model, gateway_url=gateway.url), encoding="utf-8")
    last = tmp_path / "codex-last-message.txt"
    env = agent_env(tmp_path, CODEX_HOME=str(home), SWITCHBOARD_API_KEY="sk-client")
    argv = [
        cli("codex"),
        "exec",
        "--skip-git-repo-check",
        "--ephemeral",
        "--dangerously-bypass-approvals-and-sandbox",
        "--output-last-message",
        last,
        prompt,
    ]
    proc = run_agent(argv, env, cwd)
    assert proc.returncode == 0, f"codex exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert last.exists(), f"codex wrote no last message\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return last.read_text(encoding="utf-8").strip()


@BOTH_UPSTREAMS
def test_codex_prompt(gateway, mock_control, tmp_path, workdir, model):
    mock_control.set_default({"type": "text", "content": "Codex, this is the mock speaking."})
    answer = codex(gateway, tmp_path, workdir, "Say hello.", model)
    assert answer == "Codex, this is the mock speaking."

    reqs = upstream_requests(mock_control, model)
    assert reqs, "the mock saw no request"
    body = reqs[0]["body"]
    assert body["stream"] is True
    if model == ANTHROPIC_MODEL:
        names = {t["name"] for t in body["tools"]}
        system = json.dumps(body.get("system"))
    else:
        names = {t["function"]["name"] for t in body["tools"]}
        system = json.dumps([m for m in body["messages"] if m["role"] == "system"])
    # Codex's function tools arrive as functions, a namespace's tools flattened under its name.
    assert "exec_command" in names, names
    assert any(n.startswith("multi_agent_v1__") for n in names), names
    assert "Codex" in system


@BOTH_UPSTREAMS
def test_codex_tool_round_trip(gateway, mock_control, tmp_path, workdir, model):
    mock_control.push(
        {"type": "tool_call", "name": "exec_command", "arguments": json.dumps({"cmd": "cat note.txt"}), "id": "call_exec1"}
    )
    mock_control.push({"type": "echo"})  # "tool result: <the command's output>"
    mock_control.set_default({"type": "text", "content": "(an unexpected extra request)"})
    answer = codex(gateway, tmp_path, workdir, "What is the secret word in note.txt?", model)
    assert "marmalade" in answer, answer

    reqs = upstream_requests(mock_control, model)
    assert len(reqs) >= 2, len(reqs)
    messages = reqs[1]["body"]["messages"]
    if model == ANTHROPIC_MODEL:
        results = [b for m in messages if isinstance(m["content"], list) for b in m["content"] if b.get("type") == "tool_result"]
        assert [r["tool_use_id"] for r in results] == ["call_exec1"]
        assert "marmalade" in json.dumps(results[0]["content"])
    else:
        tool_msgs = [m for m in messages if m["role"] == "tool"]
        assert [m["tool_call_id"] for m in tool_msgs] == ["call_exec1"]
        assert "marmalade" in json.dumps(tool_msgs[0]["content"])
