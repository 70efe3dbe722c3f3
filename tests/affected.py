"""Print the test files that the changes of the working tree can affect (for `make check`).

A changed module affects its own tests (`adr/review/coding.py`: tests/test_review.py and
tests/test_coding.py, as tests mirror the package) and those of its dependants: the modules and
test files that import it, or import a module that imports it, through `adr/` and `tests/`. The app
factory (`adr/__init__.py`) imports every blueprint to register it; that wiring is not followed,
or every change would select every test. Templates belong to their blueprint's package; other
files map by the table below. "Changed" means against the commit `git merge-base HEAD main`
(HEAD itself on main), untracked files included; `CHANGED_SINCE=<commit>` compares with another.

    python -m tests.affected          # paths, one a line; `all` when everything is affected
"""

from __future__ import annotations

import ast
import fnmatch
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("adr", "tests")
EVERYTHING = "all"
# Files that are not Python modules, as the modules (or test files) they belong to.
OTHER_FILES = {
    "templates/intake/*": ["adr.intake"],
    "templates/review/*": ["adr.review"],
    "templates/auth/*": ["adr.auth"],
    "templates/mail/*": ["adr.mailer"],
    "templates/*": ["adr.intake", "adr.review", "adr.auth"],  # the shared layout and pages
    "adr/static/*": ["tests/browser", "tests/test_app.py"],
    "adr/translations/*": ["adr.i18n", "tests/browser"],
    "adr/schemas/*": ["adr.regulator.e2b"],
    "adr/migrations/*": [  # the tests that upgrade a database
        "tests/test_migration_*.py",
        "tests/test_app.py",
        "tests/test_audit.py",
        "tests/test_auth.py",
    ],
    "babel.cfg": ["adr.i18n"],
    "gunicorn.conf.py": ["tests/test_deployment.py"],
    "requirements*.txt": ["tests/test_lock.py"],
    "pyproject.toml": [EVERYTHING],
    "Makefile": [EVERYTHING],
    "tests/conftest.py": [EVERYTHING],
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "versions" not in path.parts  # Alembic revisions are read, never imported
    }


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Return the project modules `path` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes())):  # the project imports absolutely
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in modules
                else node.module
                for alias in node.names
            )
    # Importing a module runs its packages' __init__ too; the root's is the factory's wiring.
    with_parents = {p for m in found for p in parents(m) if p in modules and p != "adr"}
    return (found & modules.keys()) | with_parents


def parents(module: str) -> Iterable[str]:
    parts = module.split(".")
    return (".".join(parts[:end]) for end in range(1, len(parts) + 1))


@cache
def import_graph() -> tuple[dict[str, Path], dict[str, set[str]]]:
    """Return the project's modules, and for each the modules that import it."""
    modules = project_modules()
    importers: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for imported in imports_of(path, modules):
            importers[imported].add(name)
    return modules, importers


def affected_tests(changed: Iterable[str]) -> list[str]:
    """Return the test paths the changed files (paths from the checkout's root) can affect."""
    modules, importers = import_graph()
    start: set[str] = set()
    tests: set[str] = set()
    for file in changed:
        path = ROOT / file
        if path.suffix == ".py" and path.exists() and module_name(path) in modules:
            start.add(module_name(path))
        for pattern, targets in OTHER_FILES.items():
            if fnmatch.fnmatch(file, pattern) or fnmatch.fnmatch(file, f"{pattern}/*"):
                for target in targets:
                    if "/" in target:  # test files
                        tests.update(str(p.relative_to(ROOT)) for p in ROOT.glob(target))
                    else:
                        (tests if target == EVERYTHING else start).add(target)
                break  # the first pattern that matches: templates/review/x before templates/*
    if "adr" in start or EVERYTHING in tests:
        return [EVERYTHING]
    seen, todo = set(start), list(start)
    while todo:
        for importer in importers[todo.pop()] - seen - {"adr"}:
            seen.add(importer)
            todo.append(importer)
    if "tests.conftest" in seen:  # its fixtures serve every test, imported or not
        return [EVERYTHING]
    for name in seen:
        if is_test(name):
            tests.add(str(modules[name].relative_to(ROOT)))
        elif name.startswith("adr."):  # its own tests, which drive it through the app
            parts = name.split(".")[1:]
            for part in {parts[0], parts[-1]}:
                if (ROOT / "tests" / f"test_{part}.py").exists():
                    tests.add(f"tests/test_{part}.py")
    return sorted(tests)


def is_test(module: str) -> bool:
    return module.startswith("tests.") and module.rpartition(".")[2].startswith("test_")


def changed_files() -> list[str]:
    """Return the files changed since the base commit, and the untracked ones."""
    base = os.environ.get("CHANGED_SINCE") or git("merge-base", "HEAD", "main") or "HEAD"
    return sorted(
        set(git("diff", "--name-only", base).split())
        | set(git("ls-files", "--others", "--exclude-standard").split())
    )


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)  # noqa: S607
    return done.stdout.strip() if done.returncode == 0 else ""


if __name__ == "__main__":
    files = changed_files()
    selected = affected_tests(files)
    print(f"{len(files)} changed files; tests: {', '.join(selected) or 'none'}", file=sys.stderr)
    print("\n".join(selected))
