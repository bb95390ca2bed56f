// command: builds the command line that starts airgap-lsp from the
// `airgap.server.*` settings. No `vscode` import: unit-tested in Node.

export interface ServerSettings {
  command?: string[];
  pythonPath?: string;
  extraArgs?: string[];
}

export interface ServerCommand {
  command: string;
  args: string[];
}

// Independent of whether airgap_lsp/lsp/cli.py has a __main__ guard: argv[1:] stays ["serve", ...].
export const PYTHON_ENTRY = 'import sys; from airgap_lsp.lsp.cli import main; sys.exit(main())';

export function buildServerCommand(s: ServerSettings): ServerCommand {
  const extra = (s.extraArgs ?? []).filter((a) => a !== '');
  const cmd = (s.command ?? []).filter((a) => a.trim() !== '');
  if (cmd.length > 0) {
    return { command: cmd[0], args: [...cmd.slice(1), ...extra] };
  }
  const python = (s.pythonPath ?? '').trim();
  if (python !== '') {
    return { command: python, args: ['-c', PYTHON_ENTRY, 'serve', ...extra] };
  }
  return { command: 'airgap-lsp', args: ['serve', ...extra] };
}

/** For the output channel and error messages; quotes arguments with spaces. */
export function describeCommand(c: ServerCommand): string {
  return [c.command, ...c.args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ');
}
