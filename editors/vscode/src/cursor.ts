// cursor: the `airgap/cursor` hint, a protocol extension of airgap-lsp: where
// the cursor rests ({ textDocument: { uri, version }, position }), sent once
// the selection has not changed for REST_MS (so at most one per 300 ms), only
// for documents the server has open (between the client's didOpen and
// didClose), never twice for the same place. The server takes it as a hint
// (where to prepare a suggestion). No `vscode` import: unit-tested in Node.

export const CURSOR_METHOD = 'airgap/cursor';
export const REST_MS = 300;

export interface CursorHint {
  textDocument: { uri: string; version: number };
  position: { line: number; character: number };
}

/** setTimeout/clearTimeout, replaceable in tests. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

function placeOf(hint: CursorHint): string {
  const { textDocument: d, position: p } = hint;
  return `${d.uri}@${d.version}:${p.line}:${p.character}`;
}

export class CursorHints {
  private readonly open = new Set<string>();
  private timer: unknown;
  private pending: CursorHint | undefined;
  private lastSent = '';

  constructor(
    private readonly send: (hint: CursorHint) => void,
    private readonly timers: Timers = realTimers,
    private readonly restMs: number = REST_MS,
  ) {}

  /** The client sent didOpen for `uri`. */
  opened(uri: string): void {
    this.open.add(uri);
  }

  /** The client sent (or is about to send) didClose for `uri`. */
  closed(uri: string): void {
    this.open.delete(uri);
    if (this.pending?.textDocument.uri === uri) {
      this.cancel();
    }
  }

  isOpen(uri: string): boolean {
    return this.open.has(uri);
  }

  /** The selection changed: the hint goes out once it has rested. */
  moved(hint: CursorHint): void {
    this.cancel();
    if (!this.open.has(hint.textDocument.uri)) {
      return;
    }
    this.pending = hint;
    this.timer = this.timers.set(() => this.fire(), this.restMs);
  }

  private fire(): void {
    const hint = this.pending;
    this.pending = undefined;
    this.timer = undefined;
    if (!hint || !this.open.has(hint.textDocument.uri)) {
      return;
    }
    const place = placeOf(hint);
    if (place === this.lastSent) {
      return;
    }
    this.lastSent = place;
    this.send(hint);
  }

  private cancel(): void {
    if (this.timer !== undefined) {
      this.timers.clear(this.timer);
      this.timer = undefined;
    }
    this.pending = undefined;
  }

  dispose(): void {
    this.cancel();
    this.open.clear();
  }
}
