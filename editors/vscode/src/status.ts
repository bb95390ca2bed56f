// status: turns the server's `airgap/status` notifications into the status
// bar's text, tooltip and colour. No `vscode` import: unit-tested in Node.

export type ServerState = 'loading' | 'ready' | 'error' | 'busy';

export interface AirgapStatus {
  state: ServerState;
  message?: string;
  model?: string;
  /** Where the models came from: registry, ollama, lmstudio, hf, llamacpp, path or file. */
  modelSource?: string;
  /** "configured: <names>" or what `models.target = "auto"` chose and why. */
  choice?: string;
  lastLatencyMs?: number | null;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** 'error' and 'warning' map to the status bar's background colours. */
  severity: 'normal' | 'warning' | 'error';
}

export type ClientPhase = 'starting' | 'running' | 'stopped' | 'failed';

const ICONS: Record<ServerState, string> = {
  loading: '$(sync~spin)',
  busy: '$(loading~spin)',
  ready: '$(check)',
  error: '$(error)',
};

export function formatLatency(ms: number | null | undefined): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Keeps the last known latency when an update (e.g. "busy") carries none. */
export function mergeStatus(prev: AirgapStatus | undefined, next: AirgapStatus): AirgapStatus {
  const latency = typeof next.lastLatencyMs === 'number' ? next.lastLatencyMs : prev?.lastLatencyMs;
  return { ...next, lastLatencyMs: latency ?? null };
}

export function formatStatus(
  status: AirgapStatus | undefined,
  enabled: boolean,
  phase: ClientPhase = 'running',
): StatusView {
  if (phase === 'failed') {
    return {
      text: '$(error) airgap',
      tooltip: 'airgap: the server could not be started. See "airgap: Show Log".',
      severity: 'error',
    };
  }
  if (phase === 'stopped') {
    return { text: '$(debug-stop) airgap', tooltip: 'airgap: server stopped', severity: 'warning' };
  }
  if (!enabled) {
    return {
      text: '$(circle-slash) airgap',
      tooltip: 'airgap: inline suggestions are off (click to turn on)',
      severity: 'normal',
    };
  }
  if (!status || phase === 'starting') {
    return { text: '$(sync~spin) airgap', tooltip: 'airgap: starting the server', severity: 'normal' };
  }
  const latency = formatLatency(status.lastLatencyMs);
  const showLatency = latency !== '' && (status.state === 'ready' || status.state === 'busy');
  const text = `${ICONS[status.state] ?? '$(question)'} airgap${showLatency ? ` ${latency}` : ''}`;
  const lines = [`airgap: ${status.state}`];
  if (status.model) {
    lines.push(`model: ${status.model}${status.modelSource ? ` (from ${status.modelSource})` : ''}`);
  }
  if (status.choice) {
    lines.push(status.choice);
  }
  if (status.message) {
    lines.push(status.message);
  }
  if (latency !== '') {
    lines.push(`last suggestion: ${latency}`);
  }
  lines.push('click to turn inline suggestions off');
  return {
    text,
    tooltip: lines.join('\n'),
    severity: status.state === 'error' ? 'error' : 'normal',
  };
}
