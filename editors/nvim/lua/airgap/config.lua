-- airgap.config: the plugin's options (defaults, merging) and the LSP client
-- config derived from them. No side effects: nothing here starts a server.
local M = {}

M.defaults = {
  -- Command that starts the server on stdio.
  cmd = { 'airgap-lsp', 'serve' },
  filetypes = {
    'python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact',
    'go', 'rust', 'java', 'c', 'cpp', 'lua', 'sh', 'ruby', 'php', 'cs',
  },
  root_markers = { '.git', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml' },
  -- Start the server for `filetypes` (vim.lsp.enable on 0.11+, an autocmd on 0.10).
  autostart = true,
  -- 'auto' = vim.lsp.inline_completion when Neovim has it (0.12+), else 'fallback'.
  engine = 'auto',
  -- Debounce of the fallback engine; the native engine has its own (200 ms).
  debounce_ms = 200,
  -- Tell the server where the cursor rests in Normal/Visual mode (the
  -- `airgap/cursor` notification, at most one per 300 ms), so it can prepare.
  cursor_hints = true,
  -- Insert-mode keys; set one to false to leave that key alone.
  keymaps = {
    accept = '<Tab>',
    accept_word = '<M-Right>',
    accept_line = '<M-C-Right>',
    next = '<M-]>',
    prev = '<M-[>',
    dismiss = '<C-]>',
    trigger = '<M-\\>',
  },
  -- Sent as initializationOptions and as workspace/configuration section
  -- "airgap"; same camelCase shape as the server's contract. Empty means the
  -- server's own defaults, so the two never drift apart.
  settings = {},
}

local current = vim.deepcopy(M.defaults)

--- Lists replace rather than merge, so `filetypes = {'python'}` means only python.
local function merge(base, over)
  if type(base) ~= 'table' or type(over) ~= 'table' or vim.islist(over) then
    return vim.deepcopy(over)
  end
  local out = vim.deepcopy(base)
  for k, v in pairs(over) do
    if out[k] ~= nil and type(v) == 'table' and not vim.islist(v) then
      out[k] = merge(out[k], v)
    else
      out[k] = vim.deepcopy(v)
    end
  end
  return out
end
M.merge = merge

function M.set(opts)
  current = merge(M.defaults, opts or {})
  return current
end

function M.get()
  return current
end

--- The "serve" command with `serve` and what follows replaced by `sub`,
--- e.g. { 'airgap-lsp', 'models', '--json' } for checkhealth.
function M.subcommand(cmd, sub)
  local out = {}
  for _, part in ipairs(cmd) do
    if part == 'serve' then
      break
    end
    out[#out + 1] = part
  end
  vim.list_extend(out, sub)
  return out
end

--- The settings as sent on the wire: an empty Lua table would be encoded as
--- a JSON list, and the server wants objects for the top level and its sections.
function M.wire_settings(settings)
  local out = vim.deepcopy(settings or {})
  for _, section in ipairs({ 'models', 'completion', 'log' }) do
    if type(out[section]) == 'table' and vim.tbl_isempty(out[section]) then
      out[section] = vim.empty_dict()
    end
  end
  return vim.tbl_isempty(out) and vim.empty_dict() or out
end

--- Client config for vim.lsp.config / vim.lsp.start (root_dir left to the caller).
function M.client_config(opts)
  opts = opts or current
  local settings = M.wire_settings(opts.settings)
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  -- Neovim < 0.12 does not announce inline completion; the fallback engine speaks it.
  capabilities.textDocument = capabilities.textDocument or {}
  capabilities.textDocument.inlineCompletion = capabilities.textDocument.inlineCompletion
    or { dynamicRegistration = false }
  return {
    name = 'airgap',
    cmd = vim.deepcopy(opts.cmd),
    filetypes = vim.deepcopy(opts.filetypes),
    root_markers = vim.deepcopy(opts.root_markers),
    init_options = settings,
    settings = { airgap = settings },
    capabilities = capabilities,
    handlers = {
      ['airgap/status'] = function(err, params, ctx)
        require('airgap.status').handler(err, params, ctx)
      end,
    },
  }
end

return M
