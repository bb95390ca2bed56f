"""Synthetic tiny GGUF models (random weights) and the tests that check llama.cpp runs them."""
