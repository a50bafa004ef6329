"""`make bench`: what each function deploys, as `sam build` left it in .aws-sam/build: its own
code and the layer, unzipped and zipped (Lambda's limits: 250 MB unzipped, 50 MB zipped upload)."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

from bench import results
from localaws.template import Template

ROOT = Path(__file__).resolve().parent.parent

BUILD = ROOT / ".aws-sam/build"


def sizes(directory: Path) -> tuple[int, int]:
    """(unzipped bytes, zipped bytes) of a directory's files."""
    buffer = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                unzipped += path.stat().st_size
                archive.write(path, path.relative_to(directory))
    return unzipped, len(buffer.getvalue())


def mib(size: int) -> str:
    return f"{size / 1024 / 1024:.2f}"


def main() -> int:
    if not BUILD.exists():
        print("no .aws-sam/build: run sam build (make build) first", file=sys.stderr)
        return 1
    template = Template.load()
    layer_unzipped, layer_zipped = sizes(BUILD / "CommonLayer")
    rows = []
    for function in template.resources_of_type("AWS::Serverless::Function"):
        unzipped, zipped = sizes(BUILD / function)
        rows.append(
            f"| {function} | {unzipped / 1024:.1f} | {zipped / 1024:.1f} | "
            f"{mib(unzipped + layer_unzipped)} | {mib(zipped + layer_zipped)} |"
        )
    report = "\n".join(
        [
            "## Deployment size\n",
            f"The layer (CommonLayer: the exotel_webhooks package, its requirements and their "
            f"bytecode): {mib(layer_unzipped)} MiB unzipped, {mib(layer_zipped)} MiB zipped.\n",
            "| function | code (KiB) | code zipped (KiB) | with the layer (MiB) "
            "| with the layer, zipped (MiB) |",
            "| --- | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )
    results.append(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
