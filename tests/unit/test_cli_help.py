"""Every `nozama` command teaches its use: each option has help (with its default when
it has one) and each command's --help ends with examples a reader can copy."""

from __future__ import annotations

import argparse

import pytest

from nozama.cli.main import _parser


def _commands(parser: argparse.ArgumentParser, path=("nozama",)):
    """(command path, parser) of the command and every subcommand below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, path + (name,))


COMMANDS = dict((" ".join(path), parser) for path, parser in _commands(_parser()))


def test_every_command_is_walked():
    assert {"nozama server", "nozama agent", "nozama lb", "nozama up", "nozama deploy",
            "nozama watch", "nozama functions deploy", "nozama functions deployment list",
            "nozama functions deployment describe", "nozama functions deployment follow",
            "nozama functions deployment stop"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help(name):
    parser = COMMANDS[name]
    missing = [action.option_strings or [action.dest] for action in parser._actions
               if not action.help and not isinstance(action, argparse._SubParsersAction)]
    assert missing == [], f"{name}: options without help"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            described = {choice.dest for choice in action._choices_actions}
            assert described == set(action.choices), f"{name}: subcommands without help"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_help_ends_with_examples(name):
    text = COMMANDS[name].format_help()
    tail = text.rsplit("examples:\n", 1)
    assert len(tail) == 2, f"{name}: --help has no examples"
    examples = [line.strip() for line in tail[1].splitlines() if line.strip()]
    assert 2 <= len(examples) <= 3
    assert all(line.startswith(name.split(" ", 2)[0] + " ") for line in examples)
    if name != "nozama":
        # A subcommand's examples use that subcommand.
        assert all(line.startswith(name) for line in examples), examples


def test_defaults_and_units_are_shown():
    agent = COMMANDS["nozama agent"].format_help()
    assert "--region REGION" in agent and "else us-east-1)" in agent
    assert "--cleanup-wait SECONDS" in agent and "(default: 3600.0)" in agent
    server = COMMANDS["nozama server"].format_help()
    assert "(default: 4566)" in server and "(default: 127.0.0.1)" in server
    deploy = COMMANDS["nozama deploy"].format_help()
    assert "--canary-bake-minutes MINUTES" in deploy and "--canary-percent PERCENT" in deploy
    # A flag or an option without a default says nothing misleading.
    assert "(default: False)" not in deploy and "(default: None)" not in deploy
    functions = COMMANDS["nozama functions deploy"].format_help()
    assert "the published version the alias moves to" in functions


def test_deployment_actions_say_what_they_do():
    listed = COMMANDS["nozama functions deployment"].format_help()
    for action in ("describe", "follow", "stop", "list"):
        line = next(line for line in listed.splitlines() if line.strip().startswith(action))
        assert len(line.split()) > 1, f"{action} has no help"
