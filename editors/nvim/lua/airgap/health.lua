-- airgap.health: `:checkhealth airgap`: Neovim support, the server executable,
-- the models it knows and finds in other tools' stores (`airgap-lsp models --json`),
-- what `auto` would choose, and the live client's status (models and where they came from).
local config = require('airgap.config')
local status = require('airgap.status')

local M = {}

local h = vim.health

local function check_neovim()
  h.start('airgap: Neovim')
  local v = vim.version()
  local ver = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  local native = require('airgap.native').available()
  if native then
    h.ok(('Neovim %s has vim.lsp.inline_completion (native engine available)'):format(ver))
  elseif vim.fn.has('nvim-0.10') == 1 then
    h.ok(('Neovim %s: the fallback engine shows suggestions as virtual text'):format(ver))
  else
    h.error(('Neovim %s is too old: airgap needs 0.10+'):format(ver))
  end
  local airgap = require('airgap')
  if airgap.engine then
    h.info(('engine in use: %s; suggestions %s'):format(airgap.engine.name,
      airgap.engine.is_enabled() and 'enabled' or 'disabled'))
  else
    h.warn('require("airgap").setup() has not run', { 'Is editors/nvim on the runtimepath?' })
  end
end

--- Model entries from `models --json`, whatever its top-level shape.
local function model_entries(decoded)
  if type(decoded) ~= 'table' then
    return {}
  end
  local list = decoded.models or decoded
  local out = {}
  if vim.islist(list) then
    for _, m in ipairs(list) do
      out[#out + 1] = type(m) == 'table' and m or { name = tostring(m) }
    end
  else
    for name, m in pairs(list) do
      local e = type(m) == 'table' and vim.deepcopy(m) or { path = tostring(m) }
      e.name = e.name or name
      out[#out + 1] = e
    end
  end
  return out
end

local PRESENT = { present = true, downloaded = true, ready = true, available = true, ok = true,
  installed = true, loaded = true, cached = true }

local function is_present(m)
  for _, key in ipairs({ 'present', 'exists', 'available', 'downloaded' }) do
    if type(m[key]) == 'boolean' then
      return m[key]
    end
  end
  local state = m.state or m.status
  if type(state) == 'string' then
    return PRESENT[state:lower()] == true
  end
  local path = m.path or m.file
  return type(path) == 'string' and vim.uv.fs_stat(path) ~= nil
end

local function str(v)
  return type(v) == 'string' and v or nil
end

--- A configured name as the server spells discovered names (ollama: lower case, a tag).
local function canonical(name)
  if name:sub(1, 7) == 'ollama:' then
    name = name:lower()
    if not name:sub(8):find(':', 1, true) then
      name = name .. ':latest'
    end
  end
  return name
end

local function facts(m)
  local out = {}
  for _, v in ipairs({ str(m.architecture), str(m.quantization) }) do
    out[#out + 1] = v
  end
  if type(m.params) == 'number' then
    out[#out + 1] = m.params >= 1e9 and ('%.1fB'):format(m.params / 1e9)
      or ('%dM'):format(math.floor(m.params / 1e6 + 0.5))
  end
  if type(m.fim) == 'boolean' then
    out[#out + 1] = m.fim and 'FIM' or 'no FIM'
  end
  return table.concat(out, ', ')
end

local STORES = { ollama = true, lmstudio = true, hf = true, llamacpp = true }

--- Models found in Ollama, LM Studio, the Hugging Face and llama.cpp caches.
local function check_discovered(decoded, wanted)
  local discovered = type(decoded) == 'table' and decoded.discovered or nil
  if type(discovered) ~= 'table' then
    return
  end
  local names = {}
  for _, m in ipairs(discovered) do
    local name = str(m.name) or '?'
    names[name] = true
    local where = str(m.location) or str(m.path) or ''
    if m.usable == true then
      h.ok(('found: %s (%s) %s'):format(name, facts(m), where))
    elseif wanted[name] then
      h.error(('configured model cannot be used: %s: %s'):format(name, str(m.problem) or '?'))
    else
      h.info(('found but cannot be used: %s: %s'):format(name, str(m.problem) or '?'))
    end
  end
  for name in pairs(wanted) do
    local prefix = name:match('^(%a+):')
    if STORES[prefix or ''] and not names[name] then
      h.warn(('configured model %s was not found'):format(name),
        { 'Run `airgap-lsp models` to see the names of the models on this machine' })
    end
  end
  local groups = type(decoded.speculation) == 'table' and decoded.speculation or {}
  for _, g in ipairs(groups) do
    if type(g) == 'table' then
      h.info('can speculate together: ' .. table.concat(g, ' + '))
    end
  end
  local auto = decoded.auto
  if type(auto) == 'table' and str(auto.target) then
    local draft = str(auto.draft) and auto.draft ~= '' and (', draft ' .. auto.draft) or ', no draft'
    h.info(('models.target = "auto" would load %s%s: %s'):format(auto.target, draft,
      str(auto.reason) or ''))
  end
end

local function check_server()
  h.start('airgap: server')
  local cmd = config.get().cmd
  local exe = cmd and cmd[1]
  if not exe or vim.fn.executable(exe) == 0 then
    h.error(('server command not found: %s'):format(exe or '(none)'), {
      'Install airgap-lsp (pip install airgap-lsp) or set cmd in require("airgap").setup()',
    })
    return
  end
  h.ok(('server command: %s (%s)'):format(table.concat(cmd, ' '), vim.fn.exepath(exe)))

  local models_cmd = config.subcommand(cmd, { 'models', '--json' })
  local ok, res = pcall(function()
    return vim.system(models_cmd, { text = true }):wait(20000)
  end)
  if not ok or res.code ~= 0 then
    h.error(('`%s` failed: %s'):format(table.concat(models_cmd, ' '),
      ok and vim.trim(res.stderr or '') or tostring(res)))
    return
  end
  local dok, decoded = pcall(vim.json.decode, res.stdout or '')
  if not dok then
    h.error('`models --json` did not print JSON: ' .. tostring(decoded))
    return
  end
  local entries = model_entries(decoded)
  if #entries == 0 then
    h.warn('the server knows no models')
  end
  local settings = config.get().settings or {}
  local wanted = {}
  for _, key in ipairs({ 'target', 'draft' }) do
    local name = str(vim.tbl_get(settings, 'models', key))
    if name and name ~= '' and name ~= 'auto' then
      wanted[canonical(name)] = true
    end
  end
  for _, m in ipairs(entries) do
    local desc = ('%s%s'):format(m.name or '?', type(m.path) == 'string' and (' → ' .. m.path) or '')
    if type(m.role) == 'string' then
      desc = ('[%s] %s'):format(m.role, desc)
    end
    -- Only the models the server will load matter; the rest of the registry is optional.
    local used = (m.default ~= nil and m.default ~= vim.NIL and m.default ~= false)
      or wanted[m.name or ''] or wanted[m.path or '']
    if is_present(m) then
      h.ok('model present: ' .. desc)
    elseif used then
      h.warn(('model missing: %s (%s)'):format(desc, tostring(m.state or m.status or 'no file')),
        { 'Fetch the default models with `airgap-lsp models fetch`' })
    else
      h.info(('not downloaded (optional): %s'):format(desc))
    end
  end
  check_discovered(decoded, wanted)
end

local function check_client()
  h.start('airgap: client')
  local clients = vim.lsp.get_clients({ name = 'airgap' })
  if #clients == 0 then
    h.info('no airgap client running (open a file of a configured filetype)')
    return
  end
  for _, client in ipairs(clients) do
    local caps = client.server_capabilities or {}
    local msg = ('client %d, root %s'):format(client.id, client.root_dir or client.config.root_dir or '?')
    if caps.inlineCompletionProvider then
      h.ok(msg .. ': server offers inline completion')
    else
      h.warn(msg .. ': server does not advertise inlineCompletionProvider')
    end
    local st = status.by_client[client.id]
    if not st then
      h.info('no airgap/status received yet')
    else
      local report = st.state == 'error' and h.error or h.ok
      report(('state: %s%s%s'):format(st.state, st.model and (', model ' .. st.model) or '',
        (st.message and st.message ~= '') and (', ' .. st.message) or ''))
      if str(st.modelSource) and st.modelSource ~= '' then
        h.info(('models from %s: %s'):format(st.modelSource, str(st.choice) or ''))
      end
      if type(st.lastLatencyMs) == 'number' then
        h.info(('last latency: %d ms'):format(math.floor(st.lastLatencyMs + 0.5)))
      else
        h.info('last latency: none yet')
      end
    end
  end
end

function M.check()
  check_neovim()
  check_server()
  check_client()
end

return M
