-- Test init for headless Neovim: puts editors/nvim on the runtimepath, points
-- the airgap client at $AIRGAP_LSP_CMD, then runs the scenario named by
-- $AIRGAP_TEST_SCENARIO once Neovim has entered its main loop.
local env = vim.env
local repo = assert(env.AIRGAP_TEST_REPO, 'AIRGAP_TEST_REPO not set')
vim.opt.runtimepath:prepend(repo .. '/editors/nvim')
vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.lsp.log.set_level(env.AIRGAP_TEST_LSP_LOG or 'WARN')

require('airgap').setup({
  cmd = vim.split(env.AIRGAP_LSP_CMD or 'airgap-lsp serve', '%s+', { trimempty = true }),
  engine = env.AIRGAP_TEST_ENGINE or 'auto',
  root_markers = { '.airgap-test-root' },
})

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    local harness = dofile(repo .. '/tests/editors/nvim/harness.lua')
    harness.run(env.AIRGAP_TEST_SCENARIO, env.AIRGAP_TEST_OUT, tonumber(env.AIRGAP_TEST_TIMEOUT))
  end,
})
