"""`python -m airgap_lsp`: the command line (`airgap-lsp`)."""

import sys

from airgap_lsp.lsp.cli import main

sys.exit(main())
