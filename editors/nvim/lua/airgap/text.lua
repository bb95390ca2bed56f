-- airgap.text: pure string logic shared by both engines: what is left of a
-- suggestion after the text already typed, and its next word or line.
local M = {}

--- Plain text of an LSP insertText (string or snippet StringValue).
function M.plain(insert_text)
  if type(insert_text) == 'string' then
    return insert_text
  end
  if type(insert_text) ~= 'table' then
    return ''
  end
  local value = insert_text.value or ''
  local ok, grammar = pcall(require, 'vim.lsp._snippet_grammar')
  if ok then
    local parsed_ok, parsed = pcall(grammar.parse, value)
    if parsed_ok then
      return tostring(parsed)
    end
  end
  -- Crude snippet strip for Neovims without the grammar: ${1:x} -> x, $1 -> ''.
  value = value:gsub('%${%d+:([^}]*)}', '%1'):gsub('%$%d+', '')
  return value
end

--- What to insert at the cursor: `text` minus `typed` (the buffer text between
--- the item's range start and the cursor). nil when the item does not match.
function M.remainder(text, typed)
  typed = typed or ''
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  local rest = text:sub(#typed + 1)
  if rest == '' then
    return nil
  end
  return rest
end

--- Next word: optional whitespace then a run of word characters or of
--- punctuation; at a line break, the break plus the next line's indent.
function M.next_word(s)
  if s:sub(1, 1) == '\n' then
    return s:match('^\n[ \t]*')
  end
  return s:match('^[ \t]*[%w_]+') or s:match('^[ \t]*[^%w_%s]+') or s:match('^[ \t]+') or s
end

--- Rest of the current line, or (at a line break) the break plus the next line.
function M.next_line(s)
  if s:sub(1, 1) == '\n' then
    return '\n' .. (s:sub(2):match('^[^\n]*'))
  end
  return s:match('^[^\n]*')
end

--- Split on '\n' keeping empty pieces (the shape nvim_buf_set_text wants).
function M.lines(s)
  return vim.split(s, '\n', { plain = true })
end

return M
