"""Generate the control service's Python modules from its .proto (development time only).

``python -m emulator.control.generate [OUT_DIR]`` writes ``control_pb2.py`` and ``control_pb2.pyi``
into ``OUT_DIR`` (default: this package). Needs grpcio-tools; ``scripts/gen-protos`` runs it with
the pinned grpcio-tools whose gencode (protobuf 5.26) every supported protobuf runtime accepts, as
the ``durabletask`` package's own generated modules do. The service's handlers and stubs are built
from the descriptor (as for TaskHubSidecarService), so no ``_grpc.py`` module is needed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parents[1]
PROTO = PACKAGE / "control.proto"
OUTPUTS = ("control_pb2.py", "control_pb2.pyi")


def generate(out_dir: Path) -> list[Path]:
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{ROOT}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            str(PROTO.relative_to(ROOT)),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed on " + str(PROTO))
        written = []
        for name in OUTPUTS:
            target = out_dir / name
            target.write_bytes((Path(tmp) / "emulator" / "control" / name).read_bytes())
            written.append(target)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGE
    for path in generate(out):
        print(path)
