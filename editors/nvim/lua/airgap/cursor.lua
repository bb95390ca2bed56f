-- airgap.cursor: tells the server where the cursor rests, with the
-- `airgap/cursor` notification (a protocol extension of airgap-lsp:
-- { textDocument = { uri, version }, position = { line, character } }).
-- Sent once the cursor has rested `delay_ms` (300 ms: at most one per 300 ms)
-- in Normal or Visual mode, only for buffers the airgap client has attached
-- (the server has them open), with the version the client sent in didChange.
-- The server takes it as a hint (where to prepare a suggestion); nothing else
-- depends on it.
local api = vim.api

local M = { method = 'airgap/cursor', delay_ms = 300 }

local has_011 = vim.fn.has('nvim-0.11') == 1
local group = api.nvim_create_augroup('airgap.cursor', { clear = true })
---@type uv.uv_timer_t?
local timer = nil
---@type table<integer, string> bufnr -> the last hint sent for it
local last = {}

local function airgap_client(bufnr)
  local client = vim.lsp.get_clients({ bufnr = bufnr, name = 'airgap' })[1]
  if client and vim.lsp.buf_is_attached(bufnr, client.id) then
    return client
  end
end

--- Normal mode, or Visual (a selection), not operator-pending or Insert.
local function resting_mode()
  local mode = api.nvim_get_mode().mode
  return mode == 'n' or mode:match('^[vV\22]') ~= nil
end

local function version_of(bufnr)
  local versions = vim.lsp.util.buf_versions
  return versions and versions[bufnr] or vim.b[bufnr].changedtick
end

--- Send the hint for the current window's cursor in `bufnr`, if it rests there.
function M.send(bufnr)
  if not api.nvim_buf_is_valid(bufnr) or bufnr ~= api.nvim_get_current_buf() then
    return
  end
  local client = airgap_client(bufnr)
  if not client or not resting_mode() then
    return
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.textDocument.version = version_of(bufnr)
  local key = ('%d:%d:%d'):format(params.textDocument.version, params.position.line,
    params.position.character)
  if last[bufnr] == key then
    return
  end
  last[bufnr] = key
  if has_011 then
    client:notify(M.method, params)
  else
    client.notify(M.method, params)
  end
end

local function rested(ev)
  local bufnr = ev.buf
  if not timer then
    timer = assert(vim.uv.new_timer())
  end
  timer:stop()
  timer:start(M.delay_ms, 0, vim.schedule_wrap(function()
    M.send(bufnr)
  end))
end

function M.start(delay_ms)
  M.delay_ms = delay_ms or M.delay_ms
  api.nvim_clear_autocmds({ group = group })
  -- CursorMoved covers Normal and Visual mode; ModeChanged the end of Insert
  -- mode and the start of a selection when the cursor did not move.
  api.nvim_create_autocmd({ 'CursorMoved', 'BufEnter' }, { group = group, callback = rested })
  api.nvim_create_autocmd('ModeChanged', {
    group = group,
    pattern = { '*:n', '*:[vV\22]*' },
    callback = rested,
  })
  api.nvim_create_autocmd({ 'LspDetach', 'BufUnload' }, {
    group = group,
    callback = function(ev)
      last[ev.buf] = nil
    end,
  })
end

function M.stop()
  api.nvim_clear_autocmds({ group = group })
  if timer then
    timer:stop()
  end
  last = {}
end

return M
