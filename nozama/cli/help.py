"""How `nozama ... --help` reads: each option's default after its help, and the
command's examples, as typed, at the end.

Every command is made with `command()`, so that tests/unit/test_cli_help.py can hold
every option to having help and every command to ending with examples.
"""

from __future__ import annotations

import argparse


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown as "(default: ...)" where there is one worth showing; the
    description and the examples kept as written (line breaks and indentation)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        # None (no default), False (a flag) and [] (a repeatable option) say nothing
        # a reader needs; an explicit "(default ...)" in the help wins.
        if action.default in (None, False, [], argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


def examples(*lines: str) -> str:
    """The epilog: a few commands a reader can copy."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def command(commands, name: str, help: str, example_lines: tuple[str, ...],
            description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose --help shows defaults and ends with `example_lines`."""
    return commands.add_parser(name, help=help, description=description or help,
                               epilog=examples(*example_lines), formatter_class=Formatter)
