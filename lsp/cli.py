"""The `airgap-lsp` command line: serve, complete, demo, models.

Owns argument parsing; `serve` keeps stdout for the protocol (logging: `lsp.logs`) and listens
on TCP only on loopback unless told otherwise, since the protocol has no authentication.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from airgap_lsp.completion.settings import ModelSettings
from airgap_lsp.lsp import __version__, logs


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address, decided without any name lookup."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: resolving it would be a network lookup; not trusted


def cmd_serve(args: argparse.Namespace) -> int:
    if args.tcp is not None and not args.allow_remote and not is_loopback(args.host):
        print(
            f"error: refusing to listen on {args.host}: the protocol has no authentication, so "
            "anyone who can reach the port can read and edit your code through it; use a "
            "loopback address (127.0.0.1, ::1), or --allow-remote if the network is trusted",
            file=sys.stderr,
        )
        return 2
    from airgap_lsp.completion.settings import LogSettings, Settings
    from airgap_lsp.lsp.server import create_server

    # Over stdio the editor reads stderr (as errors): it gets warnings and errors only. A TCP
    # server's stderr is a terminal, where everything is wanted.
    logs.setup(args.log_level, args.log_file, stderr_everything=args.tcp is not None)
    settings = Settings(log=LogSettings(level=args.log_level, file=args.log_file or ""))
    server = create_server(settings)
    server.client_log = logs.to_client(server)
    if args.tcp is not None:
        if not is_loopback(args.host):
            logging.getLogger(__name__).warning(
                "listening on %s:%d without authentication (--allow-remote)", args.host, args.tcp
            )
        else:
            logging.getLogger(__name__).info("listening on %s:%d", args.host, args.tcp)
        server.start_tcp(args.host, args.tcp)
    else:
        server.start_io()
    return 0


def _model_settings(args: argparse.Namespace) -> ModelSettings:
    base = ModelSettings()
    return ModelSettings(
        target=args.model or base.target,
        draft=base.draft if args.draft is None else args.draft,
        context_size=args.context_size,
        threads=args.threads,
        cached_documents=1,
    )


def cmd_complete(args: argparse.Namespace) -> int:
    from airgap_lsp.completion.backend import BackendError, load_backend
    from airgap_lsp.completion.completer import CompletionRequest
    from airgap_lsp.completion.settings import CompletionSettings, Settings
    from airgap_lsp.lsp.positions import split_lines

    logs.setup(args.log_level, None, stderr_everything=True)
    path = Path(args.path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    # LINE counts lines as an editor does (LSP line ends only: a form feed or U+2028 inside a
    # line does not start a new one), the same lines the server sees.
    lines = split_lines(text)
    if args.line < 1 or args.line > len(lines) + 1:
        print(f"error: line {args.line} is outside 1..{len(lines) + 1}", file=sys.stderr)
        return 2
    line_text = lines[args.line - 1] if args.line <= len(lines) else ""
    col = min(max(args.col, 1) - 1, len(line_text.rstrip("\r\n")))
    offset = sum(len(x) for x in lines[: args.line - 1]) + col
    settings = Settings(
        models=_model_settings(args),
        completion=CompletionSettings(drafting=args.drafting, max_tokens=args.max_tokens),
    )
    t0 = time.monotonic()
    try:
        loaded = load_backend(settings)
    except BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    load_s = time.monotonic() - t0
    request = CompletionRequest(key=str(path), text=text, offset=offset, path=path.name)
    suggestion = loaded.backend.complete(request, lambda: False)
    if args.json:
        print(
            json.dumps(
                {
                    "suggestion": suggestion.text if suggestion else None,
                    "loadSeconds": load_s,
                    "stats": suggestion
                    and {
                        k: getattr(suggestion, k)
                        for k in (
                            "prompt_tokens",
                            "generated_tokens",
                            "prompt_ms",
                            "predict_ms",
                            "total_ms",
                            "tokens_per_second",
                            "drafted",
                            "accepted",
                            "stop_reason",
                        )
                    },
                }
            )
        )
        return 0
    if suggestion is None:
        print("(no suggestion)")
    else:
        print(suggestion.text)
    if suggestion is not None:
        print(
            f"-- model load {load_s:.1f} s; completion {suggestion.total_ms:.0f} ms "
            f"(prompt {suggestion.prompt_tokens} tok in {suggestion.prompt_ms:.0f} ms, "
            f"{suggestion.generated_tokens} tok in {suggestion.predict_ms:.0f} ms = "
            f"{suggestion.tokens_per_second:.1f} tok/s; drafts accepted "
            f"{suggestion.accepted}/{suggestion.drafted})",
            file=sys.stderr,
        )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from airgap_lsp.completion import discovery, models, selection

    if args.action == "fetch":
        failed = 0
        for spec in models.default_specs():
            try:
                path = models.fetch(spec, progress=models.ProgressPrinter(), force=args.force)
                print(f"{spec.name}: ready at {path}")
            except models.ModelError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed += 1
        return 1 if failed else 0
    rows: list[dict[str, Any]] = []
    for spec in models.REGISTRY:
        st = models.status(spec)
        rows.append(
            {
                "name": spec.name,
                "description": spec.description,
                "role": spec.role,
                "memoryGb": spec.memory_gb,
                "path": str(st.path),
                "state": st.state,
                "size": st.size_on_disk,
                "default": spec.default_for,
            }
        )
    found = discovery.discover(discovery.default_places(args.search_path or ()))
    others = [f for f in found.found if f.source != "registry"]
    groups = discovery.speculation_groups(found.found)
    memory = selection.read_memory(args.gpu_layers)
    base = ModelSettings()
    choice = selection.choose(found.found, memory, base.context_size, base.cached_documents)
    auto = {
        "target": choice.target,
        "draft": choice.draft,
        "reason": choice.reason,
        "warnings": list(choice.warnings),
        "memory": {"available": memory.available, "total": memory.total, "kind": memory.kind},
    }
    if args.json:
        out = {
            "cacheDir": str(models.cache_dir()),
            "models": rows,
            "discovered": [f.to_json() for f in others],
            "speculation": [[f.name for f in g] for g in groups],
            "auto": auto,
            "searched": [
                {"source": p.source, "path": str(p.root), "exists": p.root.exists()}
                for p in found.places
            ],
            "seconds": round(found.seconds, 4),
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"model cache: {models.cache_dir()}")
    for r in rows:
        size = f"{r['size'] / 1e9:.2f} GB" if r["size"] else "-"
        default = f" [default {r['default']}]" if r["default"] else ""
        print(
            f"  {r['name']:<20} {r['state']:<10} {size:>8}  needs ~{r['memoryGb']:g} GB"
            f"  {r['description']}{default}"
        )
        print(f"  {'':<20} {r['path']}")
    searched = ", ".join(f"{p.source} {p.root}" for p in found.places if p.root.exists())
    print(
        f"\nmodels found in other tools' stores: {len(others)} in {found.seconds * 1000:.0f} ms"
        f" (searched: {searched or 'no store exists'})"
    )
    for f in others:
        print(f"  {f.name}")
        if f.usable:
            print(f"      {_model_facts(f)}")
        else:
            print(f"      cannot be used: {f.problem}")
        for note in f.notes:
            print(f"      note: {note}")
        print(f"      {f.location}")
    if groups:
        print("can speculate together (same vocabulary; the first is the largest):")
        for g in groups:
            print("  " + " + ".join(f.name for f in g))
    draft = f", draft {choice.draft}" if choice.draft else ", no draft"
    print(f'models.target = "auto" would load {choice.target}{draft}: {choice.reason}')
    for warning in choice.warnings:
        print(f"  warning: {warning}")
    return 0


def _model_facts(f: Any) -> str:
    h = f.header
    if not f.params:
        params = "? params"
    elif f.params < 1e9:
        params = f"{f.params / 1e6:.0f}M params"
    else:
        params = f"{f.params / 1e9:.1f}B params"
    vocab = f.vocabulary
    parts = [
        f.architecture,
        params,
        h.quantization or "?",
        f"context {h.context_length:,}" if h.context_length else "context ?",
        "FIM" if f.has_fim else "no FIM (chat prompts)",
        f"{(f.size or 0) / 1e9:.2f} GB",
        f"vocabulary {vocab.fingerprint[:8]}" if vocab else "no vocabulary",
    ]
    return ", ".join(parts)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the configured remote engine and say what is wrong, in words."""
    from airgap_lsp.completion.remote.doctor import diagnose
    from airgap_lsp.completion.settings import Settings
    from airgap_lsp.lsp.options import parse_settings

    logs.setup(args.log_level, None, stderr_everything=True)
    raw: dict[str, Any] = {}
    if args.settings:
        try:
            raw = json.loads(Path(args.settings).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"error: cannot read settings {args.settings}: {exc}", file=sys.stderr)
            return 2
    models = raw.setdefault("models", {}) if isinstance(raw, dict) else {}
    for flag in ("backend", "endpoint", "model", "tokenizer", "api_key_env", "api_key_file"):
        value = getattr(args, flag)
        if value is not None:
            models[flag] = value
    if args.ca_file is not None:
        models["caFile"] = args.ca_file
    settings, problems = parse_settings(raw, Settings())
    for problem in problems:
        print(f"FAIL settings: {problem}")
    checks = diagnose(settings.models)
    for check in checks:
        print(check.line())
    return 1 if problems or any(c.ok is False for c in checks) else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from airgap_lsp.lsp.demo import run_demo

    return run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airgap-lsp",
        description="Offline coding assistant: a language server with a local model.",
    )
    parser.add_argument("--version", action="version", version=f"airgap-lsp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", type=int, metavar="PORT", help="listen on a TCP port instead")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (no authentication: only on a trusted network)",
    )
    serve.add_argument(
        "--log-file", help="log everything to this file too (stderr keeps warnings and errors)"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)

    def model_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", help="target model: registry name or GGUF path")
        p.add_argument("--draft", help="draft model (name or path; '' for none)")
        p.add_argument("--context-size", type=int, default=4096, help="tokens per document")
        p.add_argument("--threads", type=int, default=0)
        p.add_argument("--drafting", default="auto", choices=["auto", "model", "ngram", "none"])
        p.add_argument("--max-tokens", type=int, default=128)
        p.add_argument("--log-level", default="warning")

    complete = sub.add_parser("complete", help="one completion at PATH LINE COL (1-based)")
    complete.add_argument("path")
    complete.add_argument("line", type=int)
    complete.add_argument("col", type=int)
    complete.add_argument("--json", action="store_true", help="print the result as JSON")
    model_flags(complete)
    complete.set_defaults(func=cmd_complete)

    demo = sub.add_parser(
        "demo", help="start the real server and show what an editor would get on a sample file"
    )
    demo.add_argument("--file", help="a file to complete in instead of the built-in sample")
    demo.add_argument("--line", type=int, help="1-based line of the cursor (with --file)")
    demo.add_argument("--col", type=int, default=10**6, help="1-based column (with --file)")
    demo.add_argument("--timeout", type=float, default=600.0)
    demo.set_defaults(func=cmd_demo)

    models = sub.add_parser(
        "models", help="list the known and discovered models (or fetch the defaults)"
    )
    models.add_argument("action", nargs="?", choices=["list", "fetch"], default="list")
    models.add_argument("--json", action="store_true")
    models.add_argument(
        "--search-path", action="append", metavar="DIR", help="also search DIR (repeatable)"
    )
    models.add_argument(
        "--gpu-layers", type=int, default=0, help="judge memory as models.gpuLayers would"
    )
    models.add_argument("--force", action="store_true", help="fetch again even if present")
    models.set_defaults(func=cmd_models)

    doctor = sub.add_parser("doctor", help="check the configured remote engine, in words")
    doctor.add_argument("--settings", help="a JSON file of options, as an editor sends them")
    doctor.add_argument("--backend", choices=["local", "llama-server", "openai", "ollama"])
    doctor.add_argument("--endpoint", help="the engine's URL")
    doctor.add_argument("--model", help="the served model's name")
    doctor.add_argument("--tokenizer", help="a GGUF with the served model's vocabulary")
    doctor.add_argument("--api-key-env", help="the NAME of the variable holding the API key")
    doctor.add_argument("--api-key-file", help="a file holding the API key")
    doctor.add_argument("--ca-file", help="PEM of a private CA")
    doctor.add_argument("--log-level", default="error")
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
