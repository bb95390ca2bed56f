"""llama.cpp's `llama-server` as a comparison point for the latency suite.

Owns building it from the llama.cpp copy vendored in the llama-cpp-python sdist (the same
llama.cpp the project runs in-process) into `~/.cache/airgap-lsp/llama-server-build`, and
running it on a loopback port with the default 1.5B model: start, wait for `/health`, stop.

    python -m benchmarks.llama_server build [--sdist DIR]   # several minutes on 2 cores
    python -m benchmarks.llama_server serve [--port P]      # until Ctrl-C
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

BUILD_ROOT = Path.home() / ".cache" / "airgap-lsp" / "llama-server-build"
SOURCE = BUILD_ROOT / "src"
BUILD = BUILD_ROOT / "build"
BINARY = BUILD / "bin" / "llama-server"
MODEL = Path.home() / ".cache" / "airgap-lsp" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SDIST_GLOB = "llama_cpp_python-0.3.36"
LOOPBACK = ("127.0.0.1", "localhost", "::1")

# The native build crashes on this CPU family, and AVX-VNNI must stay off; the rest matches
# what llama-cpp-python is built with here.
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
    "-DGGML_AVX512=ON",
    "-DGGML_AVX512_VBMI=ON",
    "-DGGML_AVX512_VNNI=ON",
    "-DGGML_AVX512_BF16=ON",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
]


def build(sdist: Path, jobs: int = 2) -> Path:
    """Copy the vendored llama.cpp (the sdist stays untouched) and build `llama-server`."""
    if not (SOURCE / "CMakeLists.txt").exists():
        vendored = sdist / "vendor" / "llama.cpp"
        if not (vendored / "CMakeLists.txt").exists():
            raise SystemExit(f"no vendored llama.cpp under {sdist}")
        shutil.copytree(vendored, SOURCE, symlinks=True)
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(
        [
            "nice",
            "-n",
            "10",
            "cmake",
            "-S",
            str(SOURCE),
            "-B",
            str(BUILD),
            *generator,
            *CMAKE_FLAGS,
        ],
        check=True,
    )
    subprocess.run(
        [
            "nice",
            "-n",
            "10",
            "cmake",
            "--build",
            str(BUILD),
            "--target",
            "llama-server",
            "-j",
            str(jobs),
        ],
        check=True,
    )
    return BINARY


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """`with LlamaServer() as server: ... server.infill_url ...`"""

    def __init__(
        self,
        model: Path = MODEL,
        port: int | None = None,
        host: str = "127.0.0.1",
        binary: Path = BINARY,
        threads: int = 2,
        context: int = 4096,
        log_path: Path | None = None,
        start_timeout_s: float = 300.0,
    ) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"llama-server is only started on loopback addresses, not {host}")
        self.model, self.host, self.binary = model, host, binary
        self.port = port or free_port(host)
        self.threads, self.context = threads, context
        self.log_path = log_path or BUILD_ROOT / "llama-server.log"
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def infill_url(self) -> str:
        return f"{self.url}/infill"

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "-m", str(self.model),
            "--host", self.host,
            "--port", str(self.port),
            "-c", str(self.context),
            "--cache-reuse", "256",
            "-t", str(self.threads),
        ]  # fmt: skip

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def start(self) -> LlamaServer:
        if not self.binary.exists():
            raise FileNotFoundError(
                f"{self.binary} not built: run `python -m benchmarks.llama_server build`"
            )
        if not self.model.exists():
            raise FileNotFoundError(f"model missing: {self.model}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llama-server exited with {self.process.returncode}; see {self.log_path}"
                )
            if self.healthy():  # 503 while the model loads, 200 once ready
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"llama-server not healthy after {self.start_timeout_s:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _default_sdist() -> Path:
    return Path("/tmp/sdist") / SDIST_GLOB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.llama_server")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build llama-server from the llama-cpp-python sdist")
    b.add_argument("--sdist", type=Path, default=_default_sdist(), help="unpacked sdist folder")
    b.add_argument("-j", "--jobs", type=int, default=2)
    s = sub.add_parser("serve", help="run llama-server with the default model until Ctrl-C")
    s.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    if args.command == "build":
        print(build(args.sdist, args.jobs))
        return 0
    with LlamaServer(port=args.port) as server:
        print(f"llama-server ready: {server.infill_url}", flush=True)
        try:
            while server.process is not None and server.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
