"""Write completions/ (bash, zsh, fish) from the installed ``cpa-ops`` console script.

    ./dev python scripts/generate_completions.py           # rewrite the files
    ./dev python scripts/generate_completions.py --check   # exit 1 when a file is out of date

The scripts come from running the console script itself (as ``_CPA_OPS_COMPLETE=source_bash
cpa-ops``), not from importing the app: what a user's shell gets is what the entry point prints
under the program name ``main()`` gives Typer (otherwise Typer takes it from argv[0]). The
scripts only call ``cpa-ops`` back at each Tab press; the commands and options they offer come
from the app at that moment, so regenerate when Typer's templates change, not per command.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPLETIONS = REPO / "completions"
PROG = "cpa-ops"
COMPLETE_VAR = "_CPA_OPS_COMPLETE"
# file name -> Typer's shell name
FILES = {"cpa-ops.bash": "bash", "_cpa-ops": "zsh", "cpa-ops.fish": "fish"}

# Typer's zsh script only registers the completer, so loaded from $fpath it completes nothing on
# the first Tab; like other zsh completion files, complete at once when autoloaded as _cpa-ops.
_ZSH_REGISTER = "compdef _cpa_ops_completion cpa-ops"
_ZSH_REGISTER_OR_COMPLETE = """\
if [[ "${funcstack[1]}" == "_cpa-ops" ]]; then
  _cpa_ops_completion "$@"  # autoloaded from $fpath by compinit: this is the first Tab
else
  compdef _cpa_ops_completion cpa-ops  # sourced from .zshrc after compinit
fi"""


def installed_console_script() -> Path:
    """The ``cpa-ops`` installed next to this Python (the project's .venv under ./dev)."""
    script = Path(sys.executable).parent / PROG
    if not script.exists():
        sys.exit(f"generate_completions: no {script}; run it as ./dev python {sys.argv[0]}")
    return script


def completion_script(shell: str, console_script: Path | None = None) -> str:
    """The completion script for ``shell``, as the installed console script prints it."""
    env = {k: v for k, v in os.environ.items() if k != COMPLETE_VAR}
    env[COMPLETE_VAR] = f"source_{shell}"
    ran = subprocess.run(
        [str(console_script or installed_console_script())],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    text = ran.stdout.strip("\n") + "\n"
    if shell == "zsh":
        if _ZSH_REGISTER not in text:
            raise RuntimeError(f"Typer's zsh script no longer ends with {_ZSH_REGISTER!r}")
        text = text.replace(_ZSH_REGISTER, _ZSH_REGISTER_OR_COMPLETE)
    return text


def fresh_completions() -> dict[str, str]:
    """File name -> the text a fresh generation would write."""
    console_script = installed_console_script()
    return {name: completion_script(shell, console_script) for name, shell in FILES.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date files")
    check = parser.parse_args().check
    stale = []
    for name, text in fresh_completions().items():
        path = COMPLETIONS / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not check:
            COMPLETIONS.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
    if check and stale:
        print(f"out of date: {', '.join(stale)} (run scripts/generate_completions.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
