// Tests: building the server command line from airgap.server.* settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PYTHON_ENTRY, buildServerCommand, describeCommand } from '../src/command';

test('default is airgap-lsp serve from PATH', () => {
  assert.deepEqual(buildServerCommand({}), { command: 'airgap-lsp', args: ['serve'] });
});

test('explicit command wins over pythonPath', () => {
  const c = buildServerCommand({
    command: ['/opt/airgap/bin/airgap-lsp', 'serve'],
    pythonPath: '/usr/bin/python3',
    extraArgs: ['--tcp', '9000'],
  });
  assert.deepEqual(c, { command: '/opt/airgap/bin/airgap-lsp', args: ['serve', '--tcp', '9000'] });
});

test('pythonPath runs the CLI entry point with serve', () => {
  const c = buildServerCommand({ pythonPath: ' /venv/bin/python ', command: ['', ' '] });
  assert.deepEqual(c, { command: '/venv/bin/python', args: ['-c', PYTHON_ENTRY, 'serve'] });
});

test('extra args are appended, empty ones dropped', () => {
  const c = buildServerCommand({ extraArgs: ['', '--verbose'] });
  assert.deepEqual(c.args, ['serve', '--verbose']);
});

test('describeCommand quotes arguments with spaces', () => {
  assert.equal(
    describeCommand({ command: '/my tools/airgap-lsp', args: ['serve'] }),
    '"/my tools/airgap-lsp" serve',
  );
});
