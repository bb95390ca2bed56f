-- Drives a test scenario inside headless Neovim: the scenario runs in a
-- coroutine that yields back to the main loop between steps (so typeahead,
-- autocmds, timers and LSP messages are processed as for a user), and its
-- results are written as JSON before Neovim quits.
local M = {}

local co
local results = { ok = false, steps = {}, log = {} }

local function resume(...)
  local ok, err = coroutine.resume(co, ...)
  if not ok then
    results.error = debug.traceback(co, tostring(err))
    M.finish()
  end
end

--- Yield to the main loop for `ms` milliseconds.
function M.sleep(ms)
  vim.defer_fn(function()
    resume()
  end, ms)
  coroutine.yield()
end

--- Poll `cond` every `step` ms until it returns a truthy value or `timeout` ms pass.
function M.wait_for(cond, timeout, step)
  local deadline = vim.uv.now() + timeout
  while true do
    local v = cond()
    if v then
      return v
    end
    if vim.uv.now() > deadline then
      return nil
    end
    M.sleep(step or 50)
  end
end

--- Type keys as a user would, through mappings.
function M.feed(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), 'm', false)
  M.sleep(30)
end

function M.record(name, value)
  results.steps[name] = value
end

function M.log(msg)
  table.insert(results.log, ('%d %s'):format(vim.uv.now(), msg))
end

function M.lines()
  return vim.api.nvim_buf_get_lines(0, 0, -1, false)
end

local out_path
function M.finish()
  local f = assert(io.open(out_path, 'w'))
  f:write(vim.json.encode(results))
  f:close()
  vim.cmd('qa!')
end

function M.run(scenario_path, out, timeout_s)
  out_path = out
  local scenario = dofile(scenario_path)
  -- A hung step must still produce a result file.
  vim.defer_fn(function()
    results.error = results.error or 'scenario timed out'
    M.finish()
  end, (timeout_s or 60) * 1000)
  co = coroutine.create(function()
    scenario(M)
    results.ok = true
    M.finish()
  end)
  resume()
end

return M
