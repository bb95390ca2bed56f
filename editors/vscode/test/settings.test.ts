// Tests: settings -> initializationOptions mapping and per-language enablement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigReader, DEFAULTS, buildInitOptions, isLanguageEnabled } from '../src/settings';

interface Declared {
  default?: unknown;
  minimum?: number;
  maximum?: number;
  scope?: string;
}

// Compiled to out/test/: package.json is two levels up.
const PROPERTIES: Record<string, Declared> = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'),
).contributes.configuration.properties;

/** package.json's declared server settings, `models.target` -> its declaration. */
function serverSettings(): [string, Declared][] {
  return Object.entries(PROPERTIES)
    .filter(([key]) => /^airgap\.(models|completion|log)\./.test(key))
    .map(([key, decl]) => [key.slice('airgap.'.length), decl]);
}

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
      'models.searchPaths': ['/srv/models', '~/gguf'],
      'models.contextSize': 4096,
      'models.gpuLayers': 99,
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
    models: {
      target: '/models/my.gguf',
      draft: '',
      searchPaths: ['/srv/models', '~/gguf'],
      contextSize: 4096,
      gpuLayers: 99,
      threads: 4,
    },
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
      'models.gpuLayers': -1,
      'models.threads': -3,
      'models.searchPaths': ['/a', 7],
      'completion.maxTokens': 12.7,
      'completion.drafting': 'turbo',
      'completion.disabledLanguages': ['go', 3, null],
      'completion.enabled': 'yes',
      'completion.maxPromptMs': Number.NaN,
    }),
  );
  assert.equal(opts.models.contextSize, 256);
  assert.equal(opts.models.gpuLayers, 0); // the server refuses negative layers
  assert.equal(opts.models.threads, 0);
  assert.deepEqual(opts.models.searchPaths, ['/a']);
  assert.equal(opts.completion.maxTokens, 12);
  assert.equal(opts.completion.drafting, 'auto');
  assert.deepEqual(opts.completion.disabledLanguages, ['go']);
  assert.equal(opts.completion.enabled, true);
  assert.equal(opts.completion.maxPromptMs, DEFAULTS.completion.maxPromptMs);
});

test('with nothing configured the server chooses the models (auto)', () => {
  const opts = buildInitOptions(reader({}));
  assert.equal(opts.models.target, 'auto');
  assert.equal(opts.models.draft, 'auto');
  assert.deepEqual(opts.models.searchPaths, []);
});

test('package.json declares the same defaults as DEFAULTS, for every server setting', () => {
  const declared = serverSettings();
  assert.ok(declared.length >= 15, `${declared.length} settings`);
  const sent = buildInitOptions(reader({})) as unknown as Record<string, Record<string, unknown>>;
  for (const [key, decl] of declared) {
    const [section, name] = key.split('.');
    assert.ok(name in sent[section], `${key} is declared but not sent to the server`);
    assert.deepEqual(sent[section][name], decl.default, key);
  }
  for (const [section, values] of Object.entries(sent)) {
    for (const name of Object.keys(values)) {
      assert.ok(PROPERTIES[`airgap.${section}.${name}`], `${section}.${name} is not declared`);
    }
  }
});

test('integers are clamped to the ranges package.json declares', () => {
  for (const [key, decl] of serverSettings()) {
    if (decl.minimum === undefined) {
      continue;
    }
    assert.ok(decl.maximum !== undefined, `${key} has no maximum`);
    const [section, name] = key.split('.');
    const low = buildInitOptions(reader({ [key]: -1e9 })) as unknown as Record<string, Record<string, unknown>>;
    const high = buildInitOptions(reader({ [key]: 1e12 })) as unknown as Record<string, Record<string, unknown>>;
    assert.equal(low[section][name], decl.minimum, key);
    assert.equal(high[section][name], decl.maximum, key);
  }
});

test('a workspace cannot choose model files, executables or the log file', () => {
  // .vscode/settings.json of a cloned repository must not point the server's GGUF parser
  // at a crafted file, nor start another program. 'machine' (not 'machine-overridable'):
  // only user (or remote) settings can set them.
  const models = Object.keys(PROPERTIES).filter((key) => key.startsWith('airgap.models.'));
  assert.ok(models.length >= 6, models.join());
  for (const key of [
    ...models,
    'airgap.server.command',
    'airgap.server.pythonPath',
    'airgap.server.extraArgs',
    'airgap.log.file',
  ]) {
    assert.equal(PROPERTIES[key]?.scope, 'machine', key);
  }
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
