.DEFAULT_GOAL := help
CARGO ?= cargo

help: ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## Run the whole job locally on the embedded defaults (sample data, ./local, SQLite)
	$(CARGO) run --release -- run

test: ## Install and start what the tests need (moto, linters, chromium, PostgreSQL), then run every test
	scripts/test

lint: ## Check formatting and clippy
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

bench: ## Benchmarks (release build); figures are printed, the peers' beside ours
	scripts/bench-peers
	$(CARGO) bench -p article-rec-core --features devtools --bench fetch
	$(CARGO) bench -p article-rec-core --features devtools --bench preprocess
	$(CARGO) bench -p article-rec-core --features devtools --bench save
	$(CARGO) bench -p article-rec-core --features devtools --bench train
	$(CARGO) bench -p article-rec-core --features devtools --bench selection

lambda: ## Build the five Lambda functions for x86_64, as template.yaml declares (profile lambda: release + thin LTO; needs cargo-lambda)
	cargo lambda build --profile lambda --x86-64 -p fetch -p preprocess -p defaults -p train -p save --locked

clean-local: ## Remove the local run's outputs and database
	rm -rf local

.PHONY: help run test lint bench lambda clean-local
