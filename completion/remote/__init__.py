"""Remote inference engines (llama-server, vLLM, SGLang, Ollama) behind the local engine's
interface: `http` (connections, deadlines, cancellation, errors), `dialects` (each engine's
wire format), `tokenizer` (the served model's vocabulary, here), `engines` (`RemoteEngine`,
`FallbackEngine`, `Health`), `config` (an engine from the settings) and `doctor` (what is wrong
with the configured engine, in words).
"""
