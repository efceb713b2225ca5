"""The README's test command is exactly what CI runs."""

from __future__ import annotations

import re

from conftest import ROOT


def test_readme_test_command_is_ci_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert commands[1] == ci
    assert "python -m formgate demo" in commands[0]
