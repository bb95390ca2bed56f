-- :checkhealth airgap against the stand-in server: records the report lines
-- once the client is up and a completion has produced a latency.
return function(t)
  local airgap = require('airgap')
  local buf = vim.api.nvim_get_current_buf()
  local client = t.wait_for(function()
    local c = vim.lsp.get_clients({ bufnr = buf, name = 'airgap' })[1]
    return c and c.initialized and c
  end, 15000)
  t.record('attached', client ~= nil)
  t.feed('GA')
  t.record('shown', t.wait_for(function() return airgap.displayed(buf) end, 5000))
  t.feed('<Esc>')
  vim.cmd('checkhealth airgap')
  t.wait_for(function()
    return #vim.api.nvim_buf_get_lines(0, 0, -1, false) > 5
  end, 20000)
  t.record('report', vim.api.nvim_buf_get_lines(0, 0, -1, false))
end
