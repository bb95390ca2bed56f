-- airgap.edit: buffer side of a suggestion: the normalized suggestion built
-- from an item's byte range, insertion at the cursor, and reading what an
-- engine currently displays.
local text = require('airgap.text')
local api = vim.api

local M = {}

---@class airgap.Suggestion
---@field text string         what to insert at the cursor
---@field replace_col? integer byte column on the cursor row up to which text is replaced
---@field command? table      LSP command to run after accepting
---@field client_id? integer

--- Build a suggestion for the cursor (0-based row, byte col) from an item text
--- and an optional byte range {srow, scol, erow, ecol} (0-based).
---@return airgap.Suggestion?
function M.suggestion(bufnr, row, col, item_text, range)
  local typed, replace_col = '', nil
  if range then
    local srow, scol, erow, ecol = unpack(range)
    -- Ranges reaching other lines are rare for inline completion; show them
    -- as a plain insertion rather than guess what they replace.
    if srow == row and scol <= col then
      local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
      typed = line:sub(scol + 1, col)
      if erow == row and ecol > col then
        replace_col = ecol
      end
    end
  end
  local rest = text.remainder(item_text, typed)
  if not rest then
    return nil
  end
  return { text = rest, replace_col = replace_col }
end

--- Insert `s` at the cursor of `winid`, replacing up to `replace_col` on the
--- cursor row, and leave the cursor after the inserted text.
function M.insert(winid, s, replace_col)
  local bufnr = api.nvim_win_get_buf(winid)
  local cur = api.nvim_win_get_cursor(winid)
  local row, col = cur[1] - 1, cur[2]
  local lines = text.lines(s)
  api.nvim_buf_set_text(bufnr, row, col, row, math.max(col, replace_col or col), lines)
  local end_row = row + #lines - 1
  local end_col = (#lines == 1 and col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(winid, { end_row + 1, end_col })
end

--- Text shown by the extmarks of namespace `ns` in `bufnr` (virt_text first
--- line + virt_lines), or nil when nothing is shown.
function M.displayed(bufnr, ns)
  local marks = api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
  if #marks == 0 then
    return nil
  end
  local d = marks[1][4]
  local function join(chunks)
    local parts = {}
    for _, ch in ipairs(chunks or {}) do
      if ch[2] ~= 'ComplHintMore' and ch[2] ~= 'AirgapSuggestionHint' then
        parts[#parts + 1] = ch[1]
      end
    end
    return table.concat(parts)
  end
  local out = { join(d.virt_text) }
  for _, l in ipairs(d.virt_lines or {}) do
    out[#out + 1] = join(l)
  end
  return table.concat(out, '\n')
end

return M
