// Tests: settings -> initializationOptions mapping and per-language enablement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigReader, DEFAULTS, buildInitOptions, isLanguageEnabled } from '../src/settings';

function reader(values: Record<string, unknown>): ConfigReader {
  return { get: <T>(key: string) => values[key] as T | undefined };
}

test('no settings gives the server defaults', () => {
  assert.deepEqual(buildInitOptions(reader({})), DEFAULTS);
});

test('settings map to the camelCase contract', () => {
  const opts = buildInitOptions(
    reader({
      'models.target': '/models/my.gguf',
      'models.draft': '',
      'models.contextSize': 4096,
      'models.gpuLayers': -1,
      'models.threads': 4,
      'completion.enabled': false,
      'completion.disabledLanguages': ['markdown'],
      'completion.maxTokens': 64,
      'completion.maxPromptMs': 500,
      'completion.maxPredictMs': 1500,
      'completion.debounceMs': 75,
      'completion.drafting': 'ngram',
      'log.level': 'debug',
      'log.file': '/tmp/airgap.log',
    }),
  );
  assert.deepEqual(opts, {
    models: { target: '/models/my.gguf', draft: '', contextSize: 4096, gpuLayers: -1, threads: 4 },
    completion: {
      enabled: false,
      disabledLanguages: ['markdown'],
      maxTokens: 64,
      maxPromptMs: 500,
      maxPredictMs: 1500,
      debounceMs: 75,
      drafting: 'ngram',
    },
    log: { level: 'debug', file: '/tmp/airgap.log' },
  });
});

test('empty draft disables the draft model, empty target falls back', () => {
  const opts = buildInitOptions(reader({ 'models.draft': '  ', 'models.target': '' }));
  assert.equal(opts.models.draft, '');
  assert.equal(opts.models.target, DEFAULTS.models.target);
});

test('bad values are clamped or replaced by defaults', () => {
  const opts = buildInitOptions(
    reader({
      'models.contextSize': 10,
      'models.threads': -3,
      'completion.maxTokens': 12.7,
      'completion.drafting': 'turbo',
      'completion.disabledLanguages': ['go', 3, null],
      'completion.enabled': 'yes',
      'completion.maxPromptMs': Number.NaN,
    }),
  );
  assert.equal(opts.models.contextSize, 512);
  assert.equal(opts.models.threads, 0);
  assert.equal(opts.completion.maxTokens, 12);
  assert.equal(opts.completion.drafting, 'auto');
  assert.deepEqual(opts.completion.disabledLanguages, ['go']);
  assert.equal(opts.completion.enabled, true);
  assert.equal(opts.completion.maxPromptMs, DEFAULTS.completion.maxPromptMs);
});

test('defaults are not shared between calls', () => {
  const a = buildInitOptions(reader({}));
  a.completion.disabledLanguages.push('x');
  assert.deepEqual(buildInitOptions(reader({})).completion.disabledLanguages, []);
});

test('language enablement: own entry, then "*", then on', () => {
  const map = { '*': true, markdown: false };
  assert.equal(isLanguageEnabled(map, 'python', true), true);
  assert.equal(isLanguageEnabled(map, 'markdown', true), false);
  assert.equal(isLanguageEnabled({ '*': false, python: true }, 'python', true), true);
  assert.equal(isLanguageEnabled({ '*': false }, 'go', true), false);
  assert.equal(isLanguageEnabled(undefined, 'go', true), true);
});

test('global toggle and server-disabled languages win', () => {
  assert.equal(isLanguageEnabled({ python: true }, 'python', false), false);
  assert.equal(isLanguageEnabled({ python: true }, 'python', true, ['python']), false);
});
