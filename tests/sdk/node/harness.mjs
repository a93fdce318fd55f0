// Starts the mock provider and the gateway for the Node SDK tests, and loads the pinned
// `openai` package from the prefix scripts/test installs it into (target/sdk/node).
//
// Environment knobs (all optional):
//   SWITCHBOARD_BIN_DIR       directory holding the binaries (default: <repo>/target/debug)
//   SWITCHBOARD_SDK_NODE_DIR  npm prefix holding node_modules/openai (default: <repo>/target/sdk/node)
//   SWITCHBOARD_SDK_LOG_DIR   where the processes' output is written (default: <repo>/target/sdk/logs)

import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN_DIR = process.env.SWITCHBOARD_BIN_DIR || path.join(REPO, 'target', 'debug');
const SDK_DIR = process.env.SWITCHBOARD_SDK_NODE_DIR || path.join(REPO, 'target', 'sdk', 'node');
const LOG_DIR = process.env.SWITCHBOARD_SDK_LOG_DIR || path.join(REPO, 'target', 'sdk', 'logs');
const DATA_DIR = mkdtempSync(path.join(os.tmpdir(), 'switchboard-sdk-'));

export const MOCK_MODEL = 'gpt-4o-mini';
export const QUALIFIED_MODEL = `mock/${MOCK_MODEL}`;
export const VIRTUAL_MODEL = 'fast';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** The `openai` module as installed under SDK_DIR (CommonJS entry). */
export function loadOpenAI() {
  const require = createRequire(path.join(SDK_DIR, 'package.json'));
  try {
    return require('openai');
  } catch (err) {
    throw new Error(
      `cannot load the openai package from ${SDK_DIR} (run scripts/test, which installs it): ${err.message}`,
    );
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Variables that would make the gateway configure something beyond the test's config file:
// its own SWITCHBOARD_* settings (but its log filter and format, kept for debugging) and
// providers it detects from keys such as OPENAI_API_KEY.
const KEEP = new Set(['SWITCHBOARD_LOG', 'SWITCHBOARD_LOG_FORMAT']);

function leaksConfig(name) {
  if (KEEP.has(name)) return false;
  return name.startsWith('SWITCHBOARD_') || /_(API_KEY|API_BASE|BASE_URL)$/.test(name);
}

function childEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!leaksConfig(k)) env[k] = v;
  }
  // Each run's gateway keeps its database and key file in a fresh directory.
  env.SWITCHBOARD_DATA_DIR = DATA_DIR;
  env.RUST_BACKTRACE ??= '1';
  env.NO_COLOR ??= '1'; // plain logs in target/sdk/logs
  return env;
}

function binary(name) {
  const p = path.join(BIN_DIR, name);
  if (!existsSync(p)) {
    throw new Error(`${p} not found: build the workspace binaries first (cargo build --workspace --bins)`);
  }
  return p;
}

class Proc {
  constructor(name, argv, readyPrefix, logName) {
    this.name = name;
    this.readyPrefix = readyPrefix;
    mkdirSync(LOG_DIR, { recursive: true });
    this.logPath = path.join(LOG_DIR, logName);
    this.log = createWriteStream(this.logPath);
    this.log.write(`$ ${argv.join(' ')}\n`);
    this.child = spawn(argv[0], argv.slice(1), { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.exit = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve({ code, signal }));
      this.child.on('error', (err) => resolve({ code: null, signal: null, error: err }));
    });
    this.url = null;
    this.ready = new Promise((resolve) => {
      readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
        this.log.write(`[stdout] ${line}\n`);
        const m = /listening on (http:\/\/\S+)/.exec(line);
        if (!this.url && line.trim().startsWith(readyPrefix) && m) {
          this.url = m[1].replace(/\/$/, '');
          resolve(true);
        }
      });
      this.exit.then(() => resolve(false));
    });
    readline.createInterface({ input: this.child.stderr }).on('line', (line) => this.log.write(`[stderr] ${line}\n`));
  }

  /** true when ready, false when the process exited first; throws on time-out. */
  async waitReady(timeoutMs = READY_TIMEOUT_MS) {
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const r = await Promise.race([this.ready, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      await this.stop();
      throw new Error(`${this.name} printed no "${this.readyPrefix}" line within ${timeoutMs} ms\n${this.logTail()}`);
    }
    return r;
  }

  /** SIGTERM, then SIGKILL after a grace period. Resolves to { code, signal }. */
  async stop(timeoutMs = STOP_TIMEOUT_MS) {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      let timer;
      const t = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      if ((await Promise.race([this.exit, t])) === 'timeout') {
        this.log.write(`[harness] no exit ${timeoutMs} ms after SIGTERM: killed\n`);
        this.child.kill('SIGKILL');
      }
      clearTimeout(timer);
    }
    const result = await this.exit;
    // A grandchild holding the pipes must not keep the test process alive.
    this.child.stdout.destroy();
    this.child.stderr.destroy();
    this.log.write(`[harness] exit ${JSON.stringify(result)}\n`);
    await new Promise((resolve) => this.log.end(resolve));
    return result;
  }

  logTail(lines = 40) {
    try {
      const all = readFileSync(this.logPath, 'utf8').split('\n');
      return `--- last lines of ${this.logPath} ---\n${all.slice(-lines).join('\n')}`;
    } catch {
      return `(no log at ${this.logPath})`;
    }
  }
}

async function start(name, makeArgv, readyPrefix, logName, attempts = 3) {
  let last;
  for (let i = 0; i < attempts; i++) {
    const port = await freePort();
    const proc = new Proc(name, makeArgv(port), readyPrefix, logName);
    if (await proc.waitReady()) {
      const expected = `http://127.0.0.1:${port}`;
      if (proc.url !== expected) {
        await proc.stop();
        throw new Error(`${name} announced ${proc.url}, expected ${expected}\n${proc.logTail()}`);
      }
      return proc;
    }
    await proc.stop();
    last = proc;
  }
  throw new Error(`${name} exited before it was ready (${attempts} attempts)\n${last.logTail()}`);
}

export function gatewayConfig(mockUrl) {
  return `[providers.mock]
wire_format = "openai"
base_url = "${mockUrl}/v1"
auth = "none"

[providers.mock.models."${MOCK_MODEL}"]
context_window = 128000

[models.${VIRTUAL_MODEL}]
target = "${QUALIFIED_MODEL}"
`;
}

/** Starts the mock and the gateway. Resolves to { mockUrl, gatewayUrl, stop(), logs() }. */
export async function startStack() {
  const mockBin = binary('switchboard-mock');
  const gwBin = binary('switchboard');
  const mock = await start('switchboard-mock', (port) => [mockBin, '--listen', `127.0.0.1:${port}`], 'listening on ', 'node-mock.log');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-node-'));
  const configPath = path.join(dir, 'switchboard.toml');
  writeFileSync(configPath, gatewayConfig(mock.url));
  let gateway;
  try {
    gateway = await start(
      'switchboard serve',
      (port) => [gwBin, 'serve', '--config', configPath, '--listen', `127.0.0.1:${port}`],
      'switchboard listening on ',
      'node-gateway.log',
    );
  } catch (err) {
    await mock.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    mockUrl: mock.url,
    gatewayUrl: gateway.url,
    logs: () => `${gateway.logTail()}\n${mock.logTail()}`,
    async stop() {
      const gw = await gateway.stop();
      await mock.stop();
      rmSync(dir, { recursive: true, force: true });
      return gw;
    },
    async resetMock() {
      const r = await fetch(`${mock.url}/__mock/reset`, { method: 'POST' });
      if (!r.ok) throw new Error(`POST /__mock/reset -> ${r.status}`);
    },
  };
}
