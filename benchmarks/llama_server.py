"""llama.cpp's `llama-server`: the latency suite's comparison point and the real engine of the
remote-engine tests.

Owns building it from the llama.cpp copy vendored in the llama-cpp-python sdist (the same
llama.cpp the project runs in-process), with the CPU flags `scripts/cpu_flags.sh` chooses for
the in-process wheel too, into `~/.cache/airgap-lsp/llama-server/<tag>` where the tag hashes
the version and the flags (a binary built for other flags is never reused), and running it on a
loopback port: start, wait for `/health`, stop.

    python -m benchmarks.llama_server build [--sdist DIR]   # ~9 minutes on 2 cores, once
    python -m benchmarks.llama_server path                  # the binary for this machine
    python -m benchmarks.llama_server serve [--port P]      # until Ctrl-C
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "airgap-lsp"
BUILD_ROOT = CACHE / "llama-server"
MODELS = CACHE / "models"
MODEL = MODELS / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
LLAMA_VERSION = "0.3.36"  # llama-cpp-python, as scripts/bootstrap.sh pins it
LOOPBACK = ("127.0.0.1", "localhost", "::1")

# Besides the CPU flags: only the server, one self-contained binary (the cache keeps just it),
# no network client or TLS of its own.
FIXED_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
]


def cpu_flags() -> list[str]:
    """The CPU flags of this machine's llama.cpp builds (scripts/cpu_flags.sh)."""
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "cpu_flags.sh")], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def build_tag(flags: list[str]) -> str:
    """What a built binary is keyed by: the llama.cpp sources (the llama-cpp-python version
    that vendors them) and every CMake flag, so changed sources or flags mean a new build."""
    key = " ".join([LLAMA_VERSION, *FIXED_FLAGS, *flags])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def binary_path(flags: list[str] | None = None) -> Path:
    return BUILD_ROOT / build_tag(cpu_flags() if flags is None else flags) / "bin" / "llama-server"


SDIST_LOCK = Path(__file__).resolve().parents[1] / "requirements-llama.lock"


def fetch_sdist(into: Path) -> Path:
    """The llama-cpp-python sdist, unpacked (downloaded by pip from the package index, its
    sha256 checked against requirements-llama.lock, as scripts/bootstrap.sh checks it)."""
    unpacked = into / f"llama_cpp_python-{LLAMA_VERSION}"
    if (unpacked / "vendor" / "llama.cpp" / "CMakeLists.txt").exists():
        return unpacked
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=into) as tmp:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--no-binary", ":all:", "--no-build-isolation", "--require-hashes",
                "--disable-pip-version-check", "-d", tmp, "-r", str(SDIST_LOCK),
            ],
            check=True,
        )  # fmt: skip
        archive = next(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
    return unpacked


def build(sdist: Path | None = None, jobs: int = 2) -> Path:
    """Copy the vendored llama.cpp (the sdist stays untouched) and build `llama-server` for
    this machine's CPU flags; an existing binary for the same flags is kept."""
    flags = cpu_flags()
    binary = binary_path(flags)
    if binary.exists():
        return binary
    root = binary.parent.parent
    source = BUILD_ROOT / f"src-{LLAMA_VERSION}"
    if not (source / "CMakeLists.txt").exists():
        fetched = sdist is None
        sdist = sdist or fetch_sdist(BUILD_ROOT / "sdist")
        vendored = sdist / "vendor" / "llama.cpp"
        if not (vendored / "CMakeLists.txt").exists():
            raise SystemExit(f"no vendored llama.cpp under {sdist}")
        shutil.copytree(vendored, source, symlinks=True)
        if fetched:
            shutil.rmtree(BUILD_ROOT / "sdist", ignore_errors=True)  # the copy is what builds
    work = root / "cmake"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    nice = ["nice", "-n", "10"]
    print(f"building llama-server with: {' '.join(flags)}", file=sys.stderr)
    subprocess.run(
        [*nice, "cmake", "-S", str(source), "-B", str(work), *generator, *FIXED_FLAGS, *flags],
        check=True,
    )
    subprocess.run(
        [*nice, "cmake", "--build", str(work), "--target", "llama-server", "-j", str(jobs)],
        check=True,
    )
    # Only the finished binary is published under the tag: a half build is never "built".
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_suffix(".tmp")
    shutil.copy2(work / "bin" / "llama-server", tmp)
    os.replace(tmp, binary)
    shutil.rmtree(work, ignore_errors=True)  # the objects: the binary is all that runs
    return binary


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
        binary: Path | None = None,
        threads: int = 2,
        context: int = 4096,
        extra_args: tuple[str, ...] = (),
        log_path: Path | None = None,
        start_timeout_s: float = 300.0,
    ) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"llama-server is only started on loopback addresses, not {host}")
        self.model, self.host = model, host
        self.binary = binary or binary_path()
        self.port = port or free_port(host)
        self.threads, self.context = threads, context
        self.extra_args = extra_args
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
            *self.extra_args,
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

    def kill(self) -> None:
        """Gone at once, as a crashed or killed server is: no chance to close its streams."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.llama_server")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build llama-server from the llama-cpp-python sdist")
    b.add_argument("--sdist", type=Path, help="unpacked sdist (default: fetched by pip)")
    b.add_argument("-j", "--jobs", type=int, default=2)
    sub.add_parser("path", help="print where this machine's llama-server binary is (or goes)")
    s = sub.add_parser("serve", help="run llama-server with the default model until Ctrl-C")
    s.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    if args.command == "build":
        print(build(args.sdist, args.jobs))
        return 0
    if args.command == "path":
        print(binary_path())
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
