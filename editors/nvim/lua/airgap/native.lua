-- airgap.native: the suggestion engine built on Neovim 0.12's
-- vim.lsp.inline_completion (requests, display, cycling, full accept), plus
-- accept-word/line, which the native API lacks, on top of its current item.
local edit = require('airgap.edit')
local text = require('airgap.text')
local api = vim.api

local M = { name = 'native' }

M.ns = api.nvim_create_namespace('nvim.lsp.inline_completion')

function M.available()
  return vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.get ~= nil
end

local function ic()
  return vim.lsp.inline_completion
end

-- The per-buffer Completor is private in Neovim; every use is guarded so a
-- change upstream degrades to a plain re-request instead of an error.
local function completor(bufnr)
  local ok, cap = pcall(require, 'vim.lsp._capability')
  local cls = ok and type(cap.all) == 'table' and cap.all.inline_completion or nil
  return cls and cls.active and cls.active[bufnr] or nil
end

function M.start()
  ic().enable(true)
end

function M.stop()
  ic().enable(false)
end

function M.attach(_bufnr) end

function M.set_enabled(enabled, bufnr)
  ic().enable(enabled, bufnr and { bufnr = bufnr } or nil)
end

function M.is_enabled(bufnr)
  return ic().is_enabled(bufnr and { bufnr = bufnr } or nil)
end

function M.displayed(bufnr)
  return edit.displayed(bufnr, M.ns)
end

function M.accept(bufnr)
  return ic().get({ bufnr = bufnr })
end

--- Show `rest` as the current item right away, so accepting word by word does
--- not blink while the server is asked again.
local function show_rest(bufnr, item, rest)
  local c = completor(bufnr)
  if not c or not c.client_state or not c.client_state[item.client_id] then
    return
  end
  pcall(function()
    for id, st in pairs(c.client_state) do
      st.items = id == item.client_id and { { insertText = rest, command = item.command } } or nil
    end
    c:select(1)
  end)
end

---@param kind 'word'|'line'
function M.accept_partial(bufnr, kind)
  return ic().get({
    bufnr = bufnr,
    on_accept = function(item)
      local winid = vim.fn.bufwinid(bufnr)
      if winid == -1 then
        return
      end
      local cur = api.nvim_win_get_cursor(winid)
      local r = item.range
      local range = r and { r.start.row, r.start.col, r.end_.row, r.end_.col } or nil
      local s = edit.suggestion(bufnr, cur[1] - 1, cur[2], text.plain(item.insert_text), range)
      if not s then
        return
      end
      local chunk = kind == 'word' and text.next_word(s.text) or text.next_line(s.text)
      edit.insert(winid, chunk)
      local rest = s.text:sub(#chunk + 1)
      if rest ~= '' then
        show_rest(bufnr, item, rest)
      end
    end,
  })
end

function M.select(bufnr, count)
  ic().select({ bufnr = bufnr, count = count })
end

function M.dismiss(bufnr)
  local c = completor(bufnr)
  -- abort() leaves the debounce timer running, which would bring it back.
  if c and c.reset_timer then
    pcall(c.reset_timer, c)
  end
  if not (c and pcall(c.abort, c)) then
    api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

function M.trigger(bufnr)
  local c = completor(bufnr)
  local invoked = vim.lsp.protocol.InlineCompletionTriggerKind
  if c and invoked and pcall(c.request, c, invoked.Invoked) then
    return
  end
  pcall(api.nvim_exec_autocmds, 'CursorMovedI', {
    group = ('nvim.lsp.inline_completion:%d'):format(bufnr),
    buffer = bufnr,
    modeline = false,
  })
end

return M
