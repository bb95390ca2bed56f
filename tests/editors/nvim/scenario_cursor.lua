-- `airgap/cursor` hints against the stand-in server (tests/editors/stub_server.py,
-- which records them and returns them for `stub/cursors`): one hint after the
-- cursor rests in Normal mode, none while it moves or in Insert mode, one with
-- the new version after leaving Insert mode, one when a selection changes,
-- none for a buffer the server does not have open.
return function(t)
  local buf = vim.api.nvim_get_current_buf()
  local has_011 = vim.fn.has('nvim-0.11') == 1
  local client = t.wait_for(function()
    local c = vim.lsp.get_clients({ bufnr = buf, name = 'airgap' })[1]
    return c and c.initialized and c
  end, 15000)
  t.record('attached', client ~= nil)
  if not client then
    return
  end
  local function hints()
    local res
    if has_011 then
      res = client:request_sync('stub/cursors', {}, 3000, buf)
    else
      res = client.request_sync('stub/cursors', {}, 3000, buf)
    end
    return res and res.result or {}
  end
  local function since(n)
    local all = hints()
    local out = {}
    for i = n + 1, #all do
      out[#out + 1] = all[i]
    end
    return out, #all
  end
  t.record('uri', vim.uri_from_bufnr(buf))

  t.sleep(700)
  local _, n = since(0)
  -- Moving on without resting: one hint, for where the cursor stopped.
  t.feed('gg')
  t.feed('j')
  t.feed('j')
  t.feed('k')
  t.feed('l')
  t.sleep(800)
  local got
  got, n = since(n)
  t.record('after_moves', got)
  t.record('cursor_after_moves', vim.api.nvim_win_get_cursor(0))
  t.record('version_before_edit', vim.lsp.util.buf_versions[buf] or vim.b[buf].changedtick)

  -- Insert mode: nothing while typing; leaving it is a rest.
  t.feed('Ax')
  t.sleep(700)
  got, n = since(n)
  t.record('in_insert', got)
  t.feed('<Esc>')
  t.sleep(800)
  got, n = since(n)
  t.record('after_insert', got)
  t.record('version_after_edit', vim.lsp.util.buf_versions[buf] or vim.b[buf].changedtick)

  -- A selection that changes.
  t.feed('0v')
  t.feed('l')
  t.sleep(800)
  got, n = since(n)
  t.record('after_select', got)
  t.feed('<Esc>')
  t.sleep(500)
  _, n = since(n)

  -- A buffer the server does not have open.
  vim.cmd('enew')
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'one', 'two', 'three' })
  t.feed('j')
  t.feed('j')
  t.sleep(800)
  got, n = since(n)
  t.record('other_buffer', got)
end
