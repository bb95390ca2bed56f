// Tests: status bar text/tooltip/colour from airgap/status notifications.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLatency, formatStatus, mergeStatus } from '../src/status';

test('latency formatting', () => {
  assert.equal(formatLatency(312.4), '312 ms');
  assert.equal(formatLatency(1530), '1.5 s');
  assert.equal(formatLatency(null), '');
  assert.equal(formatLatency(-1), '');
});

test('ready with latency', () => {
  const v = formatStatus({ state: 'ready', model: 'qwen2.5-coder-1.5b', message: '', lastLatencyMs: 240 }, true);
  assert.equal(v.text, '$(check) airgap 240 ms');
  assert.match(v.tooltip, /model: qwen2.5-coder-1.5b/);
  assert.match(v.tooltip, /last suggestion: 240 ms/);
  assert.equal(v.severity, 'normal');
});

test('the tooltip says where the models came from and why', () => {
  const v = formatStatus(
    {
      state: 'ready',
      model: 'Qwen3.5 9B (sha256-ab12)',
      modelSource: 'ollama',
      choice: 'auto: Qwen3.5-9B ollama:qwen3.5:9b: needs 12.0 GB, 23.1 GB of RAM available',
      lastLatencyMs: 90,
    },
    true,
  );
  assert.match(v.tooltip, /model: Qwen3\.5 9B \(sha256-ab12\) \(from ollama\)/);
  assert.match(v.tooltip, /auto: Qwen3\.5-9B ollama:qwen3\.5:9b: needs 12\.0 GB/);
  const plain = formatStatus({ state: 'ready', model: 'm', lastLatencyMs: 1 }, true);
  assert.doesNotMatch(plain.tooltip, /from/);
});

test('loading spins and hides latency', () => {
  const v = formatStatus({ state: 'loading', message: 'loading target', model: 'm', lastLatencyMs: 5 }, true);
  assert.equal(v.text, '$(sync~spin) airgap');
  assert.match(v.tooltip, /loading target/);
});

test('error is shown in the error colour', () => {
  const v = formatStatus({ state: 'error', message: 'model file missing', lastLatencyMs: null }, true);
  assert.equal(v.text, '$(error) airgap');
  assert.equal(v.severity, 'error');
  assert.match(v.tooltip, /model file missing/);
});

test('toggle off, stopped, failed and starting', () => {
  assert.equal(formatStatus({ state: 'ready' }, false).text, '$(circle-slash) airgap');
  assert.equal(formatStatus(undefined, true, 'stopped').severity, 'warning');
  assert.equal(formatStatus({ state: 'ready' }, true, 'failed').severity, 'error');
  assert.equal(formatStatus(undefined, true).text, '$(sync~spin) airgap');
});

test('a busy update keeps the last latency', () => {
  const prev = { state: 'ready' as const, lastLatencyMs: 180 };
  const merged = mergeStatus(prev, { state: 'busy', message: 'completing', lastLatencyMs: null });
  assert.equal(merged.lastLatencyMs, 180);
  assert.equal(formatStatus(merged, true).text, '$(loading~spin) airgap 180 ms');
  assert.equal(mergeStatus(undefined, { state: 'loading' }).lastLatencyMs, null);
});
