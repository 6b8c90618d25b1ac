"""The apps depend on each other in one direction only, read from the source
with ``ast`` (so an import inside a function counts too):

- ``subaccounts`` may use ``accounts``; ``accounts`` never imports
  ``subaccounts`` (what it needs comes through a registry, a signal or the
  mail-store seam);
- the product apps never import ``devtools``, so production can leave that
  app out (``MAILADMIN_DEVTOOLS=0``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports, at any depth of its code
    (``import a.b``, ``from a.b import c``, ``importlib.import_module("a.b")``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def offenders(app: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / app).rglob("*.py")):
        for name in sorted(imported_modules(path)):
            if name.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("app", ["accounts", "subaccounts"])
def test_product_apps_never_import_devtools(app):
    assert offenders(app, ("devtools",)) == []


def test_accounts_never_imports_subaccounts():
    assert offenders("accounts", ("subaccounts",)) == []


def test_the_check_sees_what_it_must_refuse(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import devtools.demo\n"
        "def f():\n"
        "    from subaccounts.models import SubAccount\n"
        "    import importlib\n"
        "    importlib.import_module('devtools.bench')\n"
    )
    assert imported_modules(sample) >= {
        "devtools.demo",
        "subaccounts.models",
        "devtools.bench",
    }


def test_the_product_starts_and_checks_without_devtools(tmp_path):
    """Production leaves the app out: the deploy checks pass and the demo's
    commands are simply not there."""
    env = {
        "PATH": "/usr/bin:/bin",
        "MAILADMIN_DEVTOOLS": "0",
        "DEBUG": "0",
        "SECRET_KEY": "test-only-key-" + "x" * 50,
        "ALLOWED_HOSTS": "mail.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://mail.example.com",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    check = subprocess.run(
        [*manage, "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    commands = subprocess.run(
        [*manage, "help", "--commands"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert commands.returncode == 0, commands.stderr
    listed = set(commands.stdout.split())
    assert "import_maillog" in listed
    assert not listed & {"seed_demo", "bench", "maillog_sample"}
