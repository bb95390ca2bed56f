// extension: VS Code glue: starts airgap-lsp through vscode-languageclient
// (inline completion comes from its proposed-features support), gates
// suggestions per language and by the global toggle, and keeps the status bar
// and the airgap.* commands, and sends the `airgap/cursor` hint where the
// cursor rests. The logic lives in settings/command/status/cursor.
import * as vscode from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';
import { buildServerCommand, describeCommand } from './command';
import { CURSOR_METHOD, CursorHints } from './cursor';
import { buildInitOptions, isLanguageEnabled } from './settings';
import { AirgapStatus, ClientPhase, formatStatus, mergeStatus } from './status';

const SECTION = 'airgap';
const TOGGLE_KEY = 'airgap.enabled';

let client: LanguageClient | undefined;
let cursorHints: CursorHints | undefined;
let output: vscode.OutputChannel;
let statusItem: vscode.StatusBarItem;
let lastStatus: AirgapStatus | undefined;
let phase: ClientPhase = 'starting';
let ctx: vscode.ExtensionContext;

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

function globallyOn(): boolean {
  return ctx.globalState.get<boolean>(TOGGLE_KEY, true);
}

function renderStatus(): void {
  const view = formatStatus(lastStatus, globallyOn(), phase);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor =
    view.severity === 'normal'
      ? undefined
      : new vscode.ThemeColor(`statusBarItem.${view.severity}Background`);
  statusItem.show();
}

function suggestionsOn(languageId: string): boolean {
  const cfg = config();
  return isLanguageEnabled(
    cfg.get<Record<string, unknown>>('enable'),
    languageId,
    globallyOn(),
    cfg.get<string[]>('completion.disabledLanguages') ?? [],
  );
}

function makeClient(): LanguageClient {
  const cfg = config();
  const cmd = buildServerCommand({
    command: cfg.get<string[]>('server.command'),
    pythonPath: cfg.get<string>('server.pythonPath'),
    extraArgs: cfg.get<string[]>('server.extraArgs'),
  });
  output.appendLine(`[airgap] server command: ${describeCommand(cmd)}`);
  const serverOptions: ServerOptions = {
    command: cmd.command,
    args: cmd.args,
    transport: TransportKind.stdio,
  };
  // Per client: the documents it opened in this server, and the hints to it.
  cursorHints?.dispose();
  const hints = new CursorHints((hint) => {
    if (client?.isRunning()) {
      void client.sendNotification(CURSOR_METHOD, hint).catch(() => undefined);
    }
  });
  cursorHints = hints;
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    initializationOptions: () => buildInitOptions(config()),
    synchronize: { configurationSection: SECTION },
    outputChannel: output,
    middleware: {
      didOpen: async (document, next) => {
        await next(document);
        hints.opened(document.uri.toString());
      },
      didClose: async (document, next) => {
        hints.closed(document.uri.toString());
        await next(document);
      },
      provideInlineCompletionItems: (document, position, context, token, next) =>
        suggestionsOn(document.languageId) ? next(document, position, context, token) : null,
      provideCompletionItem: (document, position, context, token, next) =>
        suggestionsOn(document.languageId) ? next(document, position, context, token) : null,
      workspace: {
        // Answer with the server's shape, not VS Code's raw settings tree.
        configuration: async (params, token, next) => {
          const raw = await next(params, token);
          const values = Array.isArray(raw) ? raw : params.items.map(() => null);
          return params.items.map((item, i) =>
            item.section === SECTION ? buildInitOptions(config()) : values[i],
          );
        },
      },
    },
  };
  const c = new LanguageClient('airgap', 'airgap', serverOptions, clientOptions);
  // textDocument/inlineCompletion is a proposed (LSP 3.18) feature in client v9.
  c.registerProposedFeatures();
  c.onNotification('airgap/status', (s: AirgapStatus) => {
    lastStatus = mergeStatus(lastStatus, s);
    renderStatus();
  });
  c.onDidChangeState((e) => {
    phase =
      e.newState === State.Running ? 'running' : e.newState === State.Starting ? 'starting' : 'stopped';
    renderStatus();
  });
  return c;
}

async function startClient(): Promise<void> {
  phase = 'starting';
  lastStatus = undefined;
  renderStatus();
  client = makeClient();
  try {
    await client.start();
  } catch (err) {
    phase = 'failed';
    renderStatus();
    output.appendLine(`[airgap] could not start the server: ${String(err)}`);
    void vscode.window
      .showErrorMessage('airgap: the server could not be started.', 'Show Log', 'Settings')
      .then((pick) => {
        if (pick === 'Show Log') {
          output.show();
        } else if (pick === 'Settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'airgap.server');
        }
      });
  }
}

async function restartClient(): Promise<void> {
  const old = client;
  client = undefined;
  if (old) {
    try {
      await old.stop();
    } catch (err) {
      output.appendLine(`[airgap] stopping the server failed: ${String(err)}`);
    }
  }
  await startClient();
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  ctx = context;
  output = vscode.window.createOutputChannel('airgap');
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.command = 'airgap.toggle';
  context.subscriptions.push(
    output,
    statusItem,
    vscode.commands.registerCommand('airgap.restartServer', restartClient),
    vscode.commands.registerCommand('airgap.showLog', () => output.show()),
    vscode.commands.registerCommand('airgap.toggle', async () => {
      await ctx.globalState.update(TOGGLE_KEY, !globallyOn());
      renderStatus();
    }),
    vscode.window.onDidChangeTextEditorSelection((e) => {
      const document = e.textEditor.document;
      const uri = document.uri.toString();
      if (!cursorHints?.isOpen(uri)) {
        return;
      }
      // The URI as the client spelled it in didOpen (no uriConverters are set).
      const at = e.selections[0]?.active ?? e.textEditor.selection.active;
      cursorHints.moved({
        textDocument: { uri, version: document.version },
        position: { line: at.line, character: at.character },
      });
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      // Models and budgets reach the server via didChangeConfiguration; only
      // a different server command needs a new process.
      if (e.affectsConfiguration('airgap.server')) {
        void restartClient();
      } else if (e.affectsConfiguration(SECTION)) {
        renderStatus();
      }
    }),
  );
  await startClient();
}

export async function deactivate(): Promise<void> {
  cursorHints?.dispose();
  if (client) {
    await client.stop();
  }
}
