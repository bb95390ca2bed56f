-- airgap: the plugin's entry point: setup(), the chosen suggestion engine
-- (native vim.lsp.inline_completion or the fallback), keymaps, :Airgap, and
-- starting/restarting the airgap-lsp client.
local config = require('airgap.config')
local status = require('airgap.status')
local api = vim.api

local M = {}

-- Client methods take `self` from 0.11 on; 0.10 has plain function fields.
local has_011 = vim.fn.has('nvim-0.11') == 1

M._did_setup = false
---@type table? the engine module in use (airgap.native or airgap.fallback)
M.engine = nil

local group = api.nvim_create_augroup('airgap', { clear = true })

local function pick_engine(name)
  local native = require('airgap.native')
  if name == 'native' or (name == 'auto' and native.available()) then
    if not native.available() then
      vim.notify('airgap: this Neovim has no vim.lsp.inline_completion; using the fallback',
        vim.log.levels.WARN)
      return require('airgap.fallback')
    end
    return native
  end
  return require('airgap.fallback')
end

local function is_airgap(client)
  return client and client.name == 'airgap'
end

--- Start (or reuse) the airgap client for `bufnr` without vim.lsp.enable.
function M.start_client(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local c = config.client_config()
  c.root_dir = vim.fs.root(bufnr, c.root_markers or {}) or vim.fn.getcwd()
  c.root_markers, c.filetypes = nil, nil
  return vim.lsp.start(c, { bufnr = bufnr })
end

local function start_autostart(opts)
  if vim.lsp.config ~= nil and vim.lsp.enable ~= nil then
    local c = config.client_config(opts)
    c.name = nil
    vim.lsp.config('airgap', c)
    vim.lsp.enable('airgap')
    return
  end
  api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = opts.filetypes,
    callback = function(ev)
      if vim.bo[ev.buf].buftype == '' then
        M.start_client(ev.buf)
      end
    end,
  })
  -- Buffers opened before setup() ran.
  for _, b in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(b) and vim.tbl_contains(opts.filetypes, vim.bo[b].filetype)
      and vim.bo[b].buftype == ''
    then
      M.start_client(b)
    end
  end
end

--- What a key did before airgap mapped it (e.g. 0.12's snippet-jump <Tab>),
--- run when no suggestion is shown. Returns the keys to feed.
local function run_previous(lhs, prev)
  if not prev or vim.tbl_isempty(prev) then
    return lhs
  end
  if prev.callback then
    if prev.expr == 1 then
      return prev.callback() or ''
    end
    vim.schedule(prev.callback)
    return ''
  end
  if prev.expr == 1 then
    return api.nvim_eval(prev.rhs)
  end
  return prev.rhs
end

--- The engine action behind a key: done (scheduled, as expr mappings run
--- under textlock) when a suggestion is shown, otherwise the key's old meaning.
local function expr_action(lhs, fn, prev)
  return function()
    local bufnr = api.nvim_get_current_buf()
    if M.engine and M.engine.displayed(bufnr) then
      vim.schedule(function()
        fn(bufnr)
      end)
      return ''
    end
    return run_previous(lhs, prev)
  end
end

local actions = {
  accept = { function(b) M.engine.accept(b) end, 'Accept the suggestion' },
  accept_word = { function(b) M.engine.accept_partial(b, 'word') end, 'Accept one word' },
  accept_line = { function(b) M.engine.accept_partial(b, 'line') end, 'Accept one line' },
  next = { function(b) M.engine.select(b, 1) end, 'Next suggestion' },
  prev = { function(b) M.engine.select(b, -1) end, 'Previous suggestion' },
  dismiss = { function(b) M.engine.dismiss(b) end, 'Dismiss the suggestion' },
}

---@type table<string, table> lhs -> the mapping it replaced ({} when none)
local mapped = {}
local function set_keymaps(keymaps)
  for lhs, prev in pairs(mapped) do
    pcall(vim.keymap.del, 'i', lhs)
    if not vim.tbl_isempty(prev) then
      vim.fn.mapset('i', false, prev)
    end
  end
  mapped = {}
  for name, lhs in pairs(keymaps or {}) do
    if lhs and (actions[name] or name == 'trigger') then
      local prev = vim.fn.maparg(lhs, 'i', false, true)
      if prev.buffer == 1 then
        prev = {}
      end
      mapped[lhs] = prev
      if name == 'trigger' then
        vim.keymap.set('i', lhs, function()
          M.trigger()
        end, { desc = 'airgap: Ask for a suggestion now' })
      else
        local fn, desc = unpack(actions[name])
        vim.keymap.set('i', lhs, expr_action(lhs, fn, prev),
          { expr = true, replace_keycodes = true, desc = 'airgap: ' .. desc })
      end
    end
  end
end

function M.setup(opts)
  local o = config.set(opts)
  M._did_setup = true
  api.nvim_clear_autocmds({ group = group })
  api.nvim_set_hl(0, 'AirgapSuggestion', { link = 'Comment', default = true })
  api.nvim_set_hl(0, 'AirgapSuggestionHint', { link = 'NonText', default = true })

  if M.engine then
    M.engine.stop()
  end
  M.engine = pick_engine(o.engine)
  if M.engine.name == 'fallback' then
    M.engine.debounce_ms = o.debounce_ms
  end
  M.engine.start()

  api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if is_airgap(client) then
        M.engine.attach(ev.buf)
      end
    end,
  })
  -- Clients attached before setup() (e.g. when re-running it).
  for _, client in ipairs(vim.lsp.get_clients({ name = 'airgap' })) do
    for b in pairs(client.attached_buffers or {}) do
      M.engine.attach(b)
    end
  end

  set_keymaps(o.keymaps)
  local cursor = require('airgap.cursor')
  if o.cursor_hints then
    cursor.start()
  else
    cursor.stop()
  end
  if o.autostart then
    start_autostart(o)
  end
  return M
end

local function cur()
  return api.nvim_get_current_buf()
end

function M.accept() return M.engine.accept(cur()) end
function M.accept_word() return M.engine.accept_partial(cur(), 'word') end
function M.accept_line() return M.engine.accept_partial(cur(), 'line') end
function M.next() return M.engine.select(cur(), 1) end
function M.prev() return M.engine.select(cur(), -1) end
function M.dismiss() return M.engine.dismiss(cur()) end
function M.trigger() return M.engine.trigger(cur()) end

--- The suggestion currently shown in `bufnr` (nil when none).
function M.displayed(bufnr)
  return M.engine and M.engine.displayed(bufnr or cur()) or nil
end

function M.is_enabled(bufnr)
  return M.engine ~= nil and M.engine.is_enabled(bufnr)
end

--- Toggle suggestions globally (bufnr nil) or for one buffer.
function M.toggle(bufnr)
  local on = not M.engine.is_enabled(bufnr)
  M.engine.set_enabled(on, bufnr)
  vim.notify(('airgap: suggestions %s'):format(on and 'on' or 'off'))
  return on
end

function M.restart()
  local clients = vim.lsp.get_clients({ name = 'airgap' })
  local buffers = {}
  for _, client in ipairs(clients) do
    for b in pairs(client.attached_buffers or {}) do
      buffers[#buffers + 1] = b
    end
    if has_011 then client:stop() else client.stop() end
  end
  vim.wait(3000, function()
    for _, client in ipairs(clients) do
      if not (has_011 and client:is_stopped() or not has_011 and client.is_stopped()) then
        return false
      end
    end
    return true
  end, 50)
  if #buffers == 0 then
    buffers = { cur() }
  end
  for _, b in ipairs(buffers) do
    if api.nvim_buf_is_valid(b) then
      M.start_client(b)
    end
  end
end

function M.open_log()
  local file = vim.tbl_get(config.get(), 'settings', 'log', 'file')
  vim.cmd.tabnew(vim.fn.fnameescape((file and file ~= '') and file or vim.lsp.get_log_path()))
end

--- For 'statusline': e.g. "airgap: ready 312ms".
function M.statusline()
  return status.text()
end

M.subcommands = {
  status = function() print(status.text() ~= '' and status.text() or 'airgap: not running') end,
  toggle = function() M.toggle() end,
  enable = function() M.engine.set_enabled(true) end,
  disable = function() M.engine.set_enabled(false) end,
  restart = function() M.restart() end,
  log = function() M.open_log() end,
  trigger = function() M.trigger() end,
}

return M
