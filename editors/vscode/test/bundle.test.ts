// Tests: the esbuild bundle loads with only `vscode` external and exports
// activate/deactivate (catches a dependency esbuild failed to inline).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Module from 'node:module';
import path from 'node:path';
import fs from 'node:fs';

const bundle = path.join(__dirname, '..', 'extension.js');

test('bundle loads with a stub vscode module', { skip: !fs.existsSync(bundle) }, () => {
  // Any property of the stub is another stub, so module-level code can touch the API.
  const stub: object = new Proxy(function () {}, {
    get: (_t, key) => (key === '__esModule' ? false : stub),
    apply: () => stub,
    construct: () => stub,
  });
  const mod = Module as unknown as { _load: (req: string, ...rest: unknown[]) => unknown };
  const original = mod._load;
  mod._load = (req: string, ...rest: unknown[]) => (req === 'vscode' ? stub : original(req, ...rest));
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ext = require(bundle) as { activate: unknown; deactivate: unknown };
    assert.equal(typeof ext.activate, 'function');
    assert.equal(typeof ext.deactivate, 'function');
  } finally {
    mod._load = original;
  }
});
