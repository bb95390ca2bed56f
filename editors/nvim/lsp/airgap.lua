-- lsp/airgap.lua: the `vim.lsp.Config` for airgap-lsp, picked up by
-- `vim.lsp.enable('airgap')` (Neovim 0.11+) when editors/nvim is on 'runtimepath'.
-- Override pieces with `vim.lsp.config('airgap', {...})` or require('airgap').setup().
local config = require('airgap.config')
local c = config.client_config(config.get())
c.name = nil -- vim.lsp.config names the client after this file
return c
