-- Plugin-logic scenario against the stand-in server (tests/editors/stub_server.py):
-- display, cycling, accept word / line, dismiss, manual trigger, full accept,
-- key passthrough, status line; then writes the buffer.
return function(t)
  local airgap = require('airgap')
  local buf = vim.api.nvim_get_current_buf()
  t.record('engine', airgap.engine.name)
  t.record('nvim', tostring(vim.version()))

  local client = t.wait_for(function()
    local c = vim.lsp.get_clients({ bufnr = buf, name = 'airgap' })[1]
    return c and c.initialized and c
  end, 15000)
  t.record('attached', client ~= nil)
  if not client then
    return
  end

  local function shown(timeout)
    return t.wait_for(function()
      return airgap.displayed(buf)
    end, timeout or 5000)
  end
  local function shown_equal(want)
    return t.wait_for(function()
      return airgap.displayed(buf) == want and want
    end, 5000) or airgap.displayed(buf)
  end

  t.feed('GA')
  t.record('first', shown())
  t.feed('<M-]>')
  t.record('after_next', shown_equal('return a + b'))
  t.feed('<M-[>')
  t.record('after_prev', shown_equal('result = a + b\n    return result'))

  t.feed('<M-Right>')
  t.wait_for(function() return t.lines()[3] ~= '    ' end, 3000)
  t.record('line_after_word', t.lines()[3])
  t.record('rest_after_word', shown_equal(' = a + b\n    return result'))

  t.feed('<M-C-Right>')
  t.wait_for(function() return t.lines()[3] ~= '    result' end, 3000)
  t.record('line_after_line', t.lines()[3])
  t.record('rest_after_line', shown_equal('\n    return result'))

  t.feed('<C-]>')
  t.sleep(400)
  t.record('after_dismiss', airgap.displayed(buf) or vim.NIL)
  t.record('lines_after_dismiss', t.lines())

  t.feed('<M-\\>')
  t.record('after_trigger', shown_equal('\n    return result'))

  t.feed('<Tab>')
  t.wait_for(function() return #t.lines() >= 4 end, 3000)
  t.record('lines_after_accept', t.lines())
  t.record('cursor_after_accept', vim.api.nvim_win_get_cursor(0))

  -- Nothing shown now (the stub has nothing after `return result`): <Tab> is a Tab.
  t.sleep(600)
  t.record('shown_before_tab', airgap.displayed(buf) or vim.NIL)
  t.feed('<Tab>')
  t.record('line_after_plain_tab', t.lines()[4])

  t.record('statusline', airgap.statusline())
  t.feed('<Esc>')
  vim.cmd('write')
  t.record('written', true)
end
