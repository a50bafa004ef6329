"""`make sam-local-check`'s x86_64 copy of the template (localaws/sam_local.py): what changes
for an x86_64 Lambda image, and that nothing else does."""

from __future__ import annotations

import json
from pathlib import Path

from localaws.sam_local import x86_64_template
from localaws.template import PROJECT_ROOT, Template


def test_the_x86_64_copy_changes_only_the_architecture_and_the_code_paths(
    tmp_path: Path,
) -> None:
    # Given the template
    template = Template.load()

    # When its x86_64 copy is written
    copy = json.loads(x86_64_template(template, tmp_path).read_text())

    # Then functions and layer are x86_64, and their code is found from anywhere
    assert copy["Globals"]["Function"]["Architectures"] == ["x86_64"]
    layer = copy["Resources"]["CommonLayer"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]
    assert layer["Metadata"]["BuildArchitecture"] == "x86_64"
    assert layer["Properties"]["ContentUri"] == str(PROJECT_ROOT / "layers/common/")
    receiver = copy["Resources"]["ReceiverFunction"]["Properties"]
    assert receiver["CodeUri"] == str(PROJECT_ROOT / "functions/receiver/")
    # And every other property is the template's
    for name, resource in template.resources.items():
        ours = copy["Resources"][name]
        assert ours["Type"] == resource["Type"]
        changed = {"CodeUri", "ContentUri", "CompatibleArchitectures"}
        assert {k: v for k, v in ours.get("Properties", {}).items() if k not in changed} == {
            k: v for k, v in resource.get("Properties", {}).items() if k not in changed
        }
