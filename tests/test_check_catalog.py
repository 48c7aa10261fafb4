"""`safeshift checks`: each kind's keys, generated from its model, and the README table kept equal to it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import REPO
from safeshift import api
from safeshift.checks import check_kinds
from safeshift.checks.catalog import catalog, markdown_table
from safeshift.cli.app import app
from safeshift.errors import PlanProblems
from safeshift.loading import parse_plan


def test_readme_table_is_the_generated_one() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- check-kinds:start -->\n(.*?)<!-- check-kinds:end -->", text, re.DOTALL)
    assert found, "README.md lost its check-kinds markers"
    assert found.group(1) == markdown_table(), (
        "the README's check-kinds table differs from the models: paste markdown_table() "
        "(safeshift.checks.catalog) between the markers"
    )


def test_every_kind_and_key_is_documented() -> None:
    docs = {d.kind: d for d in catalog()}
    assert set(docs) == set(check_kinds())
    for doc in docs.values():
        assert doc.summary, f"{doc.kind}: set summary on the check class"
        assert doc.keys, doc.kind
        for key in doc.keys:
            assert key.description, f"{doc.kind}.{key.name}: give the field a description"
            assert key.type and "typing" not in key.type and "Annotated" not in key.type, (doc.kind, key)


def test_keys_types_and_defaults_come_from_the_models() -> None:
    docs = {d.kind: {k.name: k for k in d.keys} for d in catalog()}
    orphans = docs["no_orphans"]
    assert list(orphans) == ["child", "parent", "key", "baseline"]
    assert orphans["child"].required and orphans["child"].type.startswith("table.column")
    assert not orphans["baseline"].required and orphans["baseline"].default_text == "false"
    assert docs["every"]["key"].default_text == '"id"'
    assert docs["row_count"]["expect"].default_text == '"== snapshot"'
    assert docs["latency"]["runs"].default == 20
    assert docs["count_matches"]["op"].type.startswith('"=="')


@pytest.mark.parametrize("doc", catalog(), ids=lambda d: d.kind)
def test_the_required_keys_listed_are_what_the_loader_asks_for(doc: Any) -> None:
    """A check with no keys but its kind is refused naming exactly the keys listed as required."""
    with pytest.raises(PlanProblems) as info:
        parse_plan({"database": {"url": "sqlite:///x.db"}, "checks": {"post": [{"kind": doc.kind}]}}, REPO / "x.toml")
    missing = {p.split(":")[0].removeprefix("checks.post[0].") for p in info.value.problems if "required key is missing" in p}
    assert missing == {k.name for k in doc.keys if k.required}


def test_api_and_cli_list_the_kinds() -> None:
    listed = api.check_kinds()
    assert listed.exit_code == 0
    data = listed.to_dict()
    assert {k["kind"] for k in data["kinds"]} == set(check_kinds())
    assert [k["name"] for k in data["common_keys"]] == ["name", "description"]

    runner = CliRunner()
    human = runner.invoke(app, ["checks"])
    assert human.exit_code == 0, human.output
    assert "no_orphans: every non-NULL reference points at an existing row" in human.stdout
    as_json = runner.invoke(app, ["checks", "--json"])
    assert as_json.exit_code == 0
    parsed = json.loads(as_json.stdout)
    orphans = next(k for k in parsed["kinds"] if k["kind"] == "no_orphans")
    assert orphans["keys"][0] == {
        "name": "child", "type": "table.column, or a list of them (one table)", "required": True,
        "default": None, "description": "the referencing column(s)",
    }
