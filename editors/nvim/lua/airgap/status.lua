-- airgap.status: receives the server's `airgap/status` notifications, keeps the
-- latest one per client, and formats it for statuslines and :checkhealth.
local M = {}

---@type table<integer, {state:string, message:string, model:string, lastLatencyMs:number?, time:integer}>
M.by_client = {}

function M.handler(_, params, ctx)
  if type(params) ~= 'table' then
    return
  end
  local prev = M.by_client[ctx.client_id]
  local entry = vim.deepcopy(params)
  entry.time = os.time()
  -- A "busy"/"loading" update without a latency must not erase the last one.
  if entry.lastLatencyMs == nil or entry.lastLatencyMs == vim.NIL then
    entry.lastLatencyMs = prev and prev.lastLatencyMs or nil
  end
  M.by_client[ctx.client_id] = entry
  if params.state == 'error' and (not prev or prev.message ~= params.message) then
    vim.notify('airgap: ' .. tostring(params.message), vim.log.levels.ERROR)
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'AirgapStatus', data = entry, modeline = false })
end

--- Latest status of any live airgap client (the most recent one wins).
function M.latest()
  local best
  for id, entry in pairs(M.by_client) do
    if vim.lsp.get_client_by_id(id) and (not best or entry.time >= best.time) then
      best = entry
    end
  end
  return best
end

--- e.g. "airgap: ready 312ms", "airgap: loading", "" when no server runs.
function M.text(entry)
  entry = entry or M.latest()
  if not entry then
    return ''
  end
  local s = 'airgap: ' .. tostring(entry.state or '?')
  if type(entry.lastLatencyMs) == 'number' and entry.state ~= 'loading' then
    s = s .. (' %dms'):format(math.floor(entry.lastLatencyMs + 0.5))
  end
  return s
end

return M
