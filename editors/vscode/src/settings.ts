// settings: maps the `airgap.*` VS Code settings to the server's
// initializationOptions / workspace-configuration shape, and decides per
// language whether inline suggestions are on. No `vscode` import: unit-tested in Node.

/** The part of vscode.WorkspaceConfiguration this module needs. */
export interface ConfigReader {
  get<T>(key: string): T | undefined;
}

export type Drafting = 'auto' | 'model' | 'ngram' | 'none';

export interface InitOptions {
  models: {
    target: string;
    draft: string;
    searchPaths: string[];
    contextSize: number;
    gpuLayers: number;
    threads: number;
  };
  completion: {
    enabled: boolean;
    disabledLanguages: string[];
    maxTokens: number;
    maxPromptMs: number;
    maxPredictMs: number;
    debounceMs: number;
    drafting: Drafting;
  };
  log: { level: string; file: string };
}

/**
 * The server's documented defaults (and package.json's; test/settings.test.ts checks both
 * agree); used when a setting is absent. `auto`: the server picks the models on this machine,
 * else its embedded pair.
 */
export const DEFAULTS: InitOptions = {
  models: {
    target: 'auto',
    draft: 'auto',
    searchPaths: [],
    contextSize: 4096,
    gpuLayers: 0,
    threads: 0,
  },
  completion: {
    enabled: true,
    disabledLanguages: [],
    maxTokens: 128,
    maxPromptMs: 4000,
    maxPredictMs: 8000,
    debounceMs: 0,
    drafting: 'auto',
  },
  log: { level: 'info', file: '' },
};

const DRAFTING: readonly string[] = ['auto', 'model', 'ngram', 'none'];

function str(cfg: ConfigReader, key: string, dflt: string): string {
  const v = cfg.get<unknown>(key);
  return typeof v === 'string' ? v : dflt;
}

/** The server's ranges (lsp/options.py BOUNDS; package.json declares the same). */
function int(cfg: ConfigReader, key: string, dflt: number, min: number, max: number): number {
  const v = cfg.get<unknown>(key);
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    return dflt;
  }
  return Math.min(max, Math.max(min, Math.trunc(v)));
}

function bool(cfg: ConfigReader, key: string, dflt: boolean): boolean {
  const v = cfg.get<unknown>(key);
  return typeof v === 'boolean' ? v : dflt;
}

function strings(cfg: ConfigReader, key: string, dflt: string[]): string[] {
  const v = cfg.get<unknown>(key);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [...dflt];
}

/** `cfg` reads keys relative to the `airgap` section (e.g. "models.target"). */
export function buildInitOptions(cfg: ConfigReader): InitOptions {
  const d = DEFAULTS;
  const drafting = str(cfg, 'completion.drafting', d.completion.drafting);
  return {
    models: {
      target: str(cfg, 'models.target', d.models.target).trim() || d.models.target,
      // An empty draft is meaningful (no draft model), so it is kept as is.
      draft: str(cfg, 'models.draft', d.models.draft).trim(),
      searchPaths: strings(cfg, 'models.searchPaths', d.models.searchPaths),
      contextSize: int(cfg, 'models.contextSize', d.models.contextSize, 256, 131072),
      gpuLayers: int(cfg, 'models.gpuLayers', d.models.gpuLayers, 0, 1000),
      threads: int(cfg, 'models.threads', d.models.threads, 0, 256),
    },
    completion: {
      enabled: bool(cfg, 'completion.enabled', d.completion.enabled),
      disabledLanguages: strings(cfg, 'completion.disabledLanguages', d.completion.disabledLanguages),
      maxTokens: int(cfg, 'completion.maxTokens', d.completion.maxTokens, 1, 4096),
      maxPromptMs: int(cfg, 'completion.maxPromptMs', d.completion.maxPromptMs, 0, 600000),
      maxPredictMs: int(cfg, 'completion.maxPredictMs', d.completion.maxPredictMs, 0, 600000),
      debounceMs: int(cfg, 'completion.debounceMs', d.completion.debounceMs, 0, 5000),
      drafting: (DRAFTING.includes(drafting) ? drafting : d.completion.drafting) as Drafting,
    },
    log: {
      level: str(cfg, 'log.level', d.log.level),
      file: str(cfg, 'log.file', d.log.file),
    },
  };
}

/**
 * `airgap.enable` maps language ids to booleans, with "*" as the default.
 * The global toggle wins over everything; the server-side list is honoured
 * too so that the client does not ask for suggestions it will not get.
 */
export function isLanguageEnabled(
  enableMap: Record<string, unknown> | undefined,
  languageId: string,
  globallyOn: boolean,
  serverDisabled: readonly string[] = [],
): boolean {
  if (!globallyOn || serverDisabled.includes(languageId)) {
    return false;
  }
  const map = enableMap ?? {};
  const own = map[languageId];
  if (typeof own === 'boolean') {
    return own;
  }
  const star = map['*'];
  return typeof star === 'boolean' ? star : true;
}
