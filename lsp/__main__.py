import sys

from airgap_lsp.lsp.cli import main

sys.exit(main())
