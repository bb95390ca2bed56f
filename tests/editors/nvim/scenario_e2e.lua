-- End-to-end scenario against the real server (real model or its fake
-- backend): wait for the client and the model, enter insert mode in the empty
-- function body, wait for a suggestion, accept it with <Tab>, write the file.
return function(t)
  local airgap = require('airgap')
  local status = require('airgap.status')
  local buf = vim.api.nvim_get_current_buf()
  local ready_s = tonumber(vim.env.AIRGAP_TEST_READY_S) or 100
  local suggest_s = tonumber(vim.env.AIRGAP_TEST_SUGGEST_S) or 120
  t.record('engine', airgap.engine.name)
  t.record('nvim', tostring(vim.version()))
  local t0 = vim.uv.now()

  local client = t.wait_for(function()
    local c = vim.lsp.get_clients({ bufnr = buf, name = 'airgap' })[1]
    return c and c.initialized and c
  end, 60000, 100)
  t.record('attached', client ~= nil)
  if not client then
    return
  end
  t.record('inline_provider', client.server_capabilities.inlineCompletionProvider ~= nil)

  -- Suggestions asked for while the model loads may come back empty.
  local st = t.wait_for(function()
    local s = status.by_client[client.id]
    return s and (s.state == 'ready' or s.state == 'error') and s
  end, ready_s * 1000, 200)
  t.record('status_before', st and st.state or vim.NIL)
  t.record('ready_ms', vim.uv.now() - t0)

  t.feed('GA')
  local asked = vim.uv.now()
  local shown = t.wait_for(function()
    local d = airgap.displayed(buf)
    if d and vim.trim(d) ~= '' then
      return d
    end
    -- Nudge now and then: a request made while the server was busy may have been dropped.
    if vim.uv.now() - asked > 15000 then
      asked = vim.uv.now()
      t.log('no suggestion yet, asking again')
      airgap.trigger()
    end
  end, suggest_s * 1000, 100)
  t.record('suggestion', shown or vim.NIL)
  t.record('suggest_ms', vim.uv.now() - t0)
  local s = status.by_client[client.id]
  t.record('status_after', s and s.state or vim.NIL)
  t.record('last_latency_ms', s and s.lastLatencyMs or vim.NIL)
  t.record('lines_before', t.lines())
  if not shown then
    return
  end

  local before = table.concat(t.lines(), '\n')
  t.feed('<Tab>')
  t.wait_for(function()
    return table.concat(t.lines(), '\n') ~= before
  end, 5000)
  t.record('lines_after', t.lines())
  t.feed('<Esc>')
  vim.cmd('write')
  t.record('written', true)
end
