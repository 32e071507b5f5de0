"""STYLE.md practice 9, a docstring on every public function: every public module-level function
and class of the package, and every public method of a public class, has one."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "sitewatch"

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _public(name: str) -> bool:
    # Dunder methods (``__post_init__``, ``__add__``) begin with "_" too: their meaning is Python's.
    return not name.startswith("_")


def undocumented(package: Path = PACKAGE) -> list[str]:
    """``module.py:line Name`` (``Class.method`` for a method) of each public definition without a
    docstring: module-level functions and classes, and the methods (properties included) of public
    classes; functions nested in functions are the enclosing one's business and are not read."""
    missing = []
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).as_posix()
        for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
            if not isinstance(node, _DEFS) or not _public(node.name):
                continue
            if ast.get_docstring(node) is None:
                missing.append(f"{module}:{node.lineno} {node.name}")
            if isinstance(node, ast.ClassDef):
                for m in node.body:
                    if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and _public(m.name):
                        if ast.get_docstring(m) is None:
                            missing.append(f"{module}:{m.lineno} {node.name}.{m.name}")
    return missing


def test_every_public_function_class_and_method_has_a_docstring() -> None:
    missing = undocumented()
    listed = "\n".join(missing)
    assert missing == [], f"{len(missing)} public definition(s) without a docstring:\n{listed}"


def test_the_check_sees_what_it_should(tmp_path: Path) -> None:
    """The walk finds an undocumented function, class, method and property, in a subpackage too,
    and leaves out private names, dunders, nested functions and the methods of private classes."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mod.py").write_text(
        "def bare(): pass\n"
        "def _private(): pass\n"
        "def told():\n    '''Why.'''\n    def nested(): pass\n"
        "class Plain:\n"
        "    def __init__(self): pass\n"
        "    def _helper(self): pass\n"
        "    @property\n    def size(self): return 1\n"
        "    def go(self):\n        '''Go.'''\n"
        "class _Hidden:\n    def run(self): pass\n",
        encoding="utf-8",
    )
    expected = ["sub/mod.py:1 bare", "sub/mod.py:6 Plain", "sub/mod.py:10 Plain.size"]
    assert undocumented(tmp_path) == expected
