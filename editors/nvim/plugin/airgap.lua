-- plugin/airgap.lua: loads airgap with default options unless the user's
-- config already called require('airgap').setup() or opted out, and defines :Airgap.
if vim.g.loaded_airgap then
  return
end
vim.g.loaded_airgap = true

if vim.fn.has('nvim-0.10') == 0 then
  vim.notify('airgap needs Neovim 0.10 or newer', vim.log.levels.WARN)
  return
end

vim.api.nvim_create_user_command('Airgap', function(cmd)
  local airgap = require('airgap')
  local sub = airgap.subcommands[cmd.fargs[1] or 'status']
  if not sub then
    vim.notify('airgap: unknown subcommand ' .. cmd.fargs[1], vim.log.levels.ERROR)
    return
  end
  if not airgap.engine then
    airgap.setup(vim.g.airgap)
  end
  sub()
end, {
  nargs = '?',
  complete = function()
    return vim.tbl_keys(require('airgap').subcommands)
  end,
  desc = 'airgap: status | toggle | enable | disable | restart | log | trigger',
})

-- Deferred so that a setup() call later in init.lua wins over the defaults.
vim.schedule(function()
  local airgap = require('airgap')
  if not airgap._did_setup and vim.g.airgap_auto_setup ~= false then
    airgap.setup(vim.g.airgap)
  end
end)
