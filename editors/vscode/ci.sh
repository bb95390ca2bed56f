#!/usr/bin/env bash
# CI for the VS Code extension: clean install from package-lock.json, compile,
# lint, unit tests (Node only, no VS Code), then package the .vsix.
set -euo pipefail
cd "$(dirname "$0")"
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
npm ci
npm run compile
npm run lint
npm test
rm -f ./*.vsix
# The bundle (esbuild) already contains the runtime deps, hence --no-dependencies.
npx --no-install vsce package --no-dependencies --allow-missing-repository \
  --out "airgap-lsp-$(node -p 'require("./package.json").version').vsix"
