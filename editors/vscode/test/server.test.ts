// Integration test: the extension's own command and settings modules start
// the real airgap-lsp (fake backend) and get an inline completion over LSP,
// as vscode-languageclient would. Skipped when no server is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as rpc from 'vscode-jsonrpc/node';
import { buildServerCommand } from '../src/command';
import { buildInitOptions } from '../src/settings';

function onPath(exe: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, exe), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const envCmd = (process.env.AIRGAP_LSP_CMD ?? '').split(/\s+/).filter((s) => s !== '');
const available = envCmd.length > 0 || onPath('airgap-lsp');

const SOURCE = 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n    \n';

test('server answers inline completion with the extension settings', { skip: !available, timeout: 60000 }, async () => {
  const cmd = buildServerCommand({ command: envCmd });
  const proc = spawn(cmd.command, cmd.args, {
    env: { ...process.env, AIRGAP_LSP_FAKE_BACKEND: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const conn = rpc.createMessageConnection(
    new rpc.StreamMessageReader(proc.stdout),
    new rpc.StreamMessageWriter(proc.stdin),
  );
  const options = buildInitOptions({ get: () => undefined });
  const states: string[] = [];
  conn.onNotification('airgap/status', (p: { state: string }) => states.push(p.state));
  conn.onRequest('workspace/configuration', (p: { items: unknown[] }) => p.items.map(() => options));
  conn.onRequest(() => null);
  conn.listen();
  try {
    const init = (await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: { textDocument: { inlineCompletion: { dynamicRegistration: true } } },
      initializationOptions: options,
    })) as { capabilities: { inlineCompletionProvider?: unknown } };
    assert.ok(init.capabilities.inlineCompletionProvider, 'no inlineCompletionProvider');
    await conn.sendNotification('initialized', {});
    const uri = 'file:///tmp/airgap-vscode-test/sample.py';
    await conn.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId: 'python', version: 1, text: SOURCE },
    });
    let items: { insertText: string | { value: string } }[] = [];
    for (let i = 0; i < 100 && items.length === 0; i++) {
      const res = (await conn.sendRequest('textDocument/inlineCompletion', {
        textDocument: { uri },
        position: { line: 2, character: 4 },
        context: { triggerKind: 1 },
      })) as { items: typeof items } | typeof items | null;
      items = Array.isArray(res) ? res : (res?.items ?? []);
      if (items.length === 0) {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.ok(items.length > 0, 'no inline completion items');
    const text = typeof items[0].insertText === 'string' ? items[0].insertText : items[0].insertText.value;
    assert.ok(text.trim().length > 0, 'empty suggestion');
    assert.ok(states.includes('ready'), `no ready status, got ${states.join(',')}`);
    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
  } finally {
    conn.dispose();
    proc.kill();
  }
});
