"""`make sam-local-check`'s x86_64 copy of the template (localaws/sam_local.py): what changes
for an x86_64 Lambda image, and that nothing else does."""

from __future__ import annotations

import json
from pathlib import Path

from localaws.sam_local import x86_64_template
from localaws.stack import refused_bind_address
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
    # And everything else is the template's: parameters, rules, conditions, outputs, the
    # functions' other globals, each resource's other properties and metadata
    for section in ("Parameters", "Rules", "Conditions", "Outputs"):
        assert copy[section] == template.sam[section]
    other_globals = {k: v for k, v in copy["Globals"]["Function"].items() if k != "Architectures"}
    assert other_globals == {
        k: v for k, v in template.sam["Globals"]["Function"].items() if k != "Architectures"
    }
    for name, resource in template.resources.items():
        metadata = {
            k: v for k, v in resource.get("Metadata", {}).items() if k != "BuildArchitecture"
        }
        assert {
            k: v
            for k, v in copy["Resources"][name].get("Metadata", {}).items()
            if k != "BuildArchitecture"
        } == metadata
        ours = copy["Resources"][name]
        assert ours["Type"] == resource["Type"]
        changed = {"CodeUri", "ContentUri", "CompatibleArchitectures"}
        assert {k: v for k, v in ours.get("Properties", {}).items() if k not in changed} == {
            k: v for k, v in resource.get("Properties", {}).items() if k not in changed
        }


def test_the_local_stack_listens_only_on_loopback_or_a_private_network() -> None:
    # Given the addresses make local BIND_ADDRESS= could be given
    # Then loopback and Docker's bridge are allowed, every interface and public ones refused
    assert refused_bind_address("127.0.0.1") is None
    assert refused_bind_address("172.17.0.1") is None
    assert refused_bind_address("0.0.0.0") is not None  # noqa: S104 - the case refused
    assert refused_bind_address("8.8.8.8") is not None
    assert refused_bind_address("docker0") is not None
