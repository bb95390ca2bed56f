# The two commands of the README:
#   make demo   set everything up, fetch the default models, show a real completion
#   make test   set everything up, fetch the default models, run every check and test
.PHONY: setup models demo test

setup:
	@scripts/bootstrap.sh

models: setup
	@.venv/bin/airgap-lsp models fetch

demo: models
	@.venv/bin/airgap-lsp demo

test: models
	@scripts/test.sh
