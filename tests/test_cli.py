"""The command dispatcher: help lists subcommands; an unbuilt one says so and fails."""

import subprocess
import sys
from pathlib import Path

import pytest

from cityhub import cli as hub_cli
from kiosk import cli
from kiosk.commands import NOT_BUILT, Subcommand, run

ROOT = Path(__file__).parent.parent


@pytest.fixture
def commands_dir(tmp_path, monkeypatch):
    """A throw-away package of subcommand modules, so the test does not depend on what is built."""
    package = tmp_path / "fakecmds"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "echo.py").write_text(
        "import sys\n"
        "def main(argv, config_path):\n"
        "    print('echo', argv, config_path)\n"
        "    return 7\n")
    (package / "broken.py").write_text("import fakecmds.no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return package


TABLE = [
    Subcommand("echo", "prints its arguments", "fakecmds.echo:main"),
    Subcommand("later", "a command a later issue builds", "fakecmds.later:main"),
    Subcommand("elsewhere", "a command in a package not built yet", "notbuiltpkg.sub:main"),
    Subcommand("broken", "a built command whose dependency is missing", "fakecmds.broken:main"),
]


def dispatch(argv):
    return run("fake", "a fake command line", TABLE, Path("/etc/fake.toml"), argv)


def test_subcommand_gets_its_arguments_and_the_config_path(commands_dir, capsys):
    assert dispatch(["--config", "/tmp/x.toml", "echo", "a", "--help"]) == 7
    assert capsys.readouterr().out == "echo ['a', '--help'] /tmp/x.toml\n"


def test_config_defaults_to_the_given_path(commands_dir, capsys):
    assert dispatch(["echo"]) == 7
    assert "/etc/fake.toml" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["later", "elsewhere"])
def test_unbuilt_subcommand_exits_non_zero_saying_not_built_yet(commands_dir, capsys, name):
    assert dispatch([name]) == NOT_BUILT != 0
    assert capsys.readouterr().err == f"fake {name}: not built yet\n"


def test_missing_dependency_inside_a_built_command_is_not_hidden(commands_dir):
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency"):
        dispatch(["broken"])


def test_unknown_subcommand_is_a_usage_error(commands_dir, capsys):
    with pytest.raises(SystemExit) as caught:
        dispatch(["nonsense"])
    assert caught.value.code == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


def test_missing_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        dispatch([])
    assert caught.value.code == 2


@pytest.mark.parametrize("module, table", [("kiosk.cli", cli.SUBCOMMANDS), ("cityhub.cli", hub_cli.SUBCOMMANDS)])
def test_help_lists_every_subcommand(module, table):
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0
    for sub in table:
        assert sub.name in done.stdout
    assert {"run", "sync", "demo", "config"} <= {sub.name for sub in cli.SUBCOMMANDS}
