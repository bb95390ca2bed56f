-- airgap.fallback: the suggestion engine for Neovim 0.10/0.11 (or forced with
-- engine = 'fallback'): requests textDocument/inlineCompletion itself,
-- debounced on insert-mode edits and cursor moves, and shows the suggestion as
-- an inline extmark (virt_text for the first line, virt_lines for the rest).
local edit = require('airgap.edit')
local text = require('airgap.text')
local api = vim.api

local M = { name = 'fallback' }

M.ns = api.nvim_create_namespace('airgap.fallback')
M.debounce_ms = 200
M.client_name = 'airgap'

local METHOD = 'textDocument/inlineCompletion'
local AUTOMATIC, INVOKED = 2, 1

local enabled_global = false
---@type table<integer, {timer?:uv.uv_timer_t, req?:{client:table, id:integer}, items?:airgap.Suggestion[], index?:integer, keep?:{tick:integer, row:integer, col:integer}, disabled?:boolean}>
local bufs = {}

local function st(bufnr)
  bufs[bufnr] = bufs[bufnr] or {}
  return bufs[bufnr]
end

-- Method-call syntax changed in 0.11 (client:request); 0.10 only has client.request.
local has_011 = vim.fn.has('nvim-0.11') == 1
local function client_request(client, params, handler, bufnr)
  if has_011 then
    return client:request(METHOD, params, handler, bufnr)
  end
  return client.request(METHOD, params, handler, bufnr)
end
local function client_cancel(client, id)
  if has_011 then
    client:cancel_request(id)
  else
    client.cancel_request(id)
  end
end

local function byte_col(line, char, enc)
  if enc == 'utf-8' then
    return math.min(char, #line)
  end
  local ok, col = pcall(vim.str_byteindex, line, enc, char, false)
  if ok and type(col) == 'number' then
    return col
  end
  ok, col = pcall(vim.str_byteindex, line, char, enc == 'utf-16')
  return ok and col or #line
end

local function stop_timer(s)
  if s.timer then
    if not s.timer:is_closing() then
      s.timer:stop()
      s.timer:close()
    end
    s.timer = nil
  end
end

local function cancel(s)
  stop_timer(s)
  if s.req then
    pcall(client_cancel, s.req.client, s.req.id)
    s.req = nil
  end
end

local function hide(bufnr)
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

local function render(bufnr, show_index)
  hide(bufnr)
  local s = st(bufnr)
  local item = s.items and s.items[s.index or 1]
  local winid = vim.fn.bufwinid(bufnr)
  if not item or winid == -1 then
    return
  end
  local cur = api.nvim_win_get_cursor(winid)
  local lines = text.lines(item.text)
  local first = { { lines[1], 'AirgapSuggestion' } }
  local rest = {}
  for i = 2, #lines do
    rest[#rest + 1] = { { lines[i], 'AirgapSuggestion' } }
  end
  if show_index and #s.items > 1 then
    local last = #rest > 0 and rest[#rest] or first
    table.insert(last, { (' (%d/%d)'):format(s.index, #s.items), 'AirgapSuggestionHint' })
  end
  api.nvim_buf_set_extmark(bufnr, M.ns, cur[1] - 1, cur[2], {
    virt_text = first,
    virt_text_pos = 'inline',
    virt_lines = #rest > 0 and rest or nil,
    hl_mode = 'combine',
  })
end

local function airgap_client(bufnr)
  for _, client in ipairs(vim.lsp.get_clients({ bufnr = bufnr })) do
    local caps = client.server_capabilities or {}
    if caps.inlineCompletionProvider and (client.name == M.client_name) then
      return client
    end
  end
  for _, client in ipairs(vim.lsp.get_clients({ bufnr = bufnr })) do
    if (client.server_capabilities or {}).inlineCompletionProvider then
      return client
    end
  end
end

local function to_suggestions(bufnr, row, col, client, result)
  local out = {}
  local items = type(result) == 'table' and (result.items or result) or {}
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local enc = client.offset_encoding or 'utf-16'
  for _, item in ipairs(items) do
    local range
    local r = item.range
    if r then
      local function bcol(pos)
        local l = pos.line == row and line
          or (api.nvim_buf_get_lines(bufnr, pos.line, pos.line + 1, false)[1] or '')
        return byte_col(l, pos.character, enc)
      end
      range = { r.start.line, bcol(r.start), r['end'].line, bcol(r['end']) }
    end
    local sug = edit.suggestion(bufnr, row, col, text.plain(item.insertText), range)
    if sug then
      sug.command = item.command
      sug.client_id = client.id
      out[#out + 1] = sug
    end
  end
  return out
end

local function request(bufnr, kind)
  local s = st(bufnr)
  cancel(s)
  local winid = api.nvim_get_current_win()
  if api.nvim_win_get_buf(winid) ~= bufnr or not api.nvim_get_mode().mode:match('^i') then
    return
  end
  local client = airgap_client(bufnr)
  if not client then
    return
  end
  local cur = api.nvim_win_get_cursor(winid)
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local params = vim.lsp.util.make_position_params(winid, client.offset_encoding)
  params.context = { triggerKind = kind }
  local ok, id = client_request(client, params, function(err, result)
    if s.req and s.req.id == id then
      s.req = nil
    end
    if err or not api.nvim_buf_is_valid(bufnr) then
      return
    end
    local now = api.nvim_win_is_valid(winid) and api.nvim_win_get_cursor(winid)
    -- Drop answers to a buffer state the user has already left.
    if not now or now[1] ~= cur[1] or now[2] ~= cur[2]
      or api.nvim_buf_get_changedtick(bufnr) ~= tick
      or not api.nvim_get_mode().mode:match('^i')
    then
      return
    end
    s.items = to_suggestions(bufnr, cur[1] - 1, cur[2], client, result)
    s.index = 1
    render(bufnr)
  end, bufnr)
  if ok and id then
    s.req = { client = client, id = id }
  end
end

local function on_change(bufnr)
  local s = st(bufnr)
  if s.keep then
    local cur = api.nvim_win_get_cursor(0)
    if s.keep.tick == api.nvim_buf_get_changedtick(bufnr) and s.keep.row == cur[1]
      and s.keep.col == cur[2]
    then
      return
    end
    s.keep = nil
  end
  cancel(s)
  s.items = nil
  hide(bufnr)
  if not M.is_enabled(bufnr) then
    return
  end
  s.timer = vim.defer_fn(function()
    s.timer = nil
    request(bufnr, AUTOMATIC)
  end, M.debounce_ms)
end

function M.available()
  return true
end

function M.start()
  enabled_global = true
end

function M.stop()
  enabled_global = false
  for bufnr in pairs(bufs) do
    M.dismiss(bufnr)
  end
end

function M.attach(bufnr)
  local group = api.nvim_create_augroup(('airgap.fallback:%d'):format(bufnr), { clear = true })
  api.nvim_create_autocmd({ 'InsertEnter', 'TextChangedI', 'CursorMovedI' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      on_change(bufnr)
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
    end,
  })
  api.nvim_create_autocmd('BufWipeout', {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
      bufs[bufnr] = nil
      pcall(api.nvim_del_augroup_by_id, group)
    end,
  })
  -- Attached while already typing: ask now rather than at the next keystroke.
  if api.nvim_get_current_buf() == bufnr and api.nvim_get_mode().mode:match('^i') then
    on_change(bufnr)
  end
end

function M.set_enabled(enabled, bufnr)
  if bufnr then
    st(bufnr).disabled = not enabled
  else
    enabled_global = enabled
    for _, s in pairs(bufs) do
      s.disabled = nil
    end
  end
  if not enabled then
    for b in pairs(bufnr and { [bufnr] = true } or bufs) do
      M.dismiss(b)
    end
  end
end

function M.is_enabled(bufnr)
  if bufnr and bufs[bufnr] and bufs[bufnr].disabled ~= nil then
    return not bufs[bufnr].disabled
  end
  return enabled_global
end

function M.displayed(bufnr)
  return edit.displayed(bufnr, M.ns)
end

local function current(bufnr)
  local s = bufs[bufnr]
  return s and s.items and s.items[s.index or 1], s
end

local function run_command(item, bufnr)
  local client = item.command and vim.lsp.get_client_by_id(item.client_id)
  if not client then
    return
  end
  if has_011 then
    client:exec_cmd(item.command, { bufnr = bufnr })
  else
    client.request('workspace/executeCommand', item.command, nil, bufnr)
  end
end

function M.accept(bufnr)
  local item, s = current(bufnr)
  local winid = vim.fn.bufwinid(bufnr)
  if not item or winid == -1 then
    return false
  end
  M.dismiss(bufnr)
  edit.insert(winid, item.text, item.replace_col)
  run_command(item, bufnr)
  s.items = nil
  return true
end

---@param kind 'word'|'line'
function M.accept_partial(bufnr, kind)
  local item, s = current(bufnr)
  local winid = vim.fn.bufwinid(bufnr)
  if not item or winid == -1 then
    return false
  end
  local chunk = kind == 'word' and text.next_word(item.text) or text.next_line(item.text)
  cancel(s)
  edit.insert(winid, chunk)
  local rest = item.text:sub(#chunk + 1)
  if rest == '' then
    s.items = nil
    hide(bufnr)
    run_command(item, bufnr)
    return true
  end
  -- Keep the rest on screen: the edit we just made must not count as typing.
  s.items = { { text = rest, replace_col = nil, command = item.command, client_id = item.client_id } }
  s.index = 1
  local cur = api.nvim_win_get_cursor(winid)
  s.keep = { tick = api.nvim_buf_get_changedtick(bufnr), row = cur[1], col = cur[2] }
  render(bufnr)
  return true
end

function M.select(bufnr, count)
  local s = bufs[bufnr]
  if not s or not s.items or #s.items == 0 then
    return
  end
  s.index = ((s.index or 1) - 1 + (count or 1)) % #s.items + 1
  render(bufnr, true)
end

function M.dismiss(bufnr)
  local s = bufs[bufnr]
  if s then
    cancel(s)
    s.items = nil
    s.keep = nil
  end
  hide(bufnr)
end

function M.trigger(bufnr)
  request(bufnr, INVOKED)
end

return M
