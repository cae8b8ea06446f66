"""The ECS cluster query language: parse an expression once, match instances fast.

ListContainerInstances `filter` and `memberOf` placement constraints both take
an expression such as

    attribute:ecs.instance-type =~ t3.* and runningTasksCount <= 4

`parse_expression` turns the text into a `ClusterQuery` whose `matches` is a
tree of closures built at parse time: the scheduler calls it for every
candidate instance, so evaluation never looks at the text again.

The language follows the ECS developer guide ("Create expressions to define
container instances for Amazon ECS tasks"):

- a condition is `subject operator [argument]`; subjects are agentConnected,
  agentVersion, attribute:<name>, ec2InstanceId, registeredAt,
  runningTasksCount and task:group, each with the operators the guide lists;
- `in` / `not_in` take a list `[a, b, c]`; `matches` / `not_matches` take a
  regular expression (Java syntax in ECS; Python's `re` here) that must match
  the whole value;
- conditions combine with `and`/`&&`, `or`/`||`, `not`/`!` (not binds
  tightest, then and, then or) and parentheses; a single condition can't
  contain parentheses, so a regex with parentheses must be quoted.

Names and values are case-sensitive; keywords and operator words are not.
Syntax errors raise InvalidParameterException naming the problem and its
1-based position.
"""

from __future__ import annotations

from nozama.kernel import errors
import functools
import operator
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable


__all__ = ["ClusterQuery", "InstanceFacts", "MAX_LENGTH", "parse_expression"]

MAX_LENGTH = 2000  # what ECS allows for a placement-constraint expression
# Deep enough for any real expression, shallow enough that neither the parser
# nor the nested closures approach Python's recursion limit.
_MAX_DEPTH = 100

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(slots=True)
class InstanceFacts:
    """What a query can ask about one container instance."""

    # name -> value; an attribute set without a value maps to None.
    attributes: dict[str, str | None] = field(default_factory=dict)
    ec2_instance_id: str | None = None
    registered_at: datetime = _EPOCH  # timezone-aware; naive is taken as UTC
    running_tasks_count: int = 0
    agent_connected: bool = True
    agent_version: str | None = None
    # The groups of the tasks on the instance ("service:web", "family:x", ...).
    task_groups: frozenset[str] = frozenset()


Predicate = Callable[[InstanceFacts], bool]


class ClusterQuery:
    """A parsed expression: `matches(facts)` and the `subjects` it reads."""

    __slots__ = ("text", "subjects", "matches")

    def __init__(self, text: str, subjects: frozenset[str], predicate: Predicate):
        self.text = text
        # Frozen: parsed queries are cached and shared between callers.
        self.subjects = subjects
        # The compiled predicate itself, so a call costs no extra frame.
        self.matches: Predicate = predicate

    def __repr__(self) -> str:
        return f"ClusterQuery({self.text!r})"


def parse_expression(text: str) -> ClusterQuery:
    """Parse a cluster query expression, or raise InvalidParameterException."""
    if not isinstance(text, str):
        raise _invalid("the expression must be a string")
    return _parse_cached(text)


# Services and task definitions repeat the same few constraints on every
# placement; caching keeps "parse once" true even for callers that don't.
@functools.lru_cache(maxsize=1024)
def _parse_cached(text: str) -> ClusterQuery:
    if not text.strip():
        raise _invalid("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise _invalid(f"the expression is longer than {MAX_LENGTH} characters")
    parser = _Parser(text)
    predicate = parser.parse()
    return ClusterQuery(text, frozenset(parser.subjects), predicate)


def _invalid(problem: str, position: int | None = None) -> errors.ecs.InvalidParameterException:
    where = "" if position is None else f" at position {position + 1}"
    return errors.ecs.InvalidParameterException(
        f"The filter expression is invalid{where}: {problem}.")


class _BadArgument(Exception):
    """An argument the subject can't use; the parser adds the position."""


# ---------------------------------------------------------------- tokenizer

WORD, STRING, END = "word", "string", "end"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # WORD, STRING, END, or the punctuation itself: ( ) [ ] ,
    text: str  # as written, quotes included
    pos: int   # 0-based offset in the expression
    value: str = ""  # WORD: the text; STRING: the text without its quotes

    def describe(self) -> str:
        return "the end of the expression" if self.kind == END else f"'{self.text}'"


# Words run to whitespace, punctuation or a quote, so values like
# service:production, t2.*, 1.14.5 and 2018-06-18T22:28:28+00:00 stay whole;
# operators therefore need spaces around them, as in every documented example.
_TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<punct>[()\[\],])
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<word>[^\s()\[\],'"]+)
""", re.VERBOSE)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:  # only a quote that never closes gets here
            raise _invalid(f"the quoted value starting with {text[pos]} is not closed", pos)
        kind, lexeme = match.lastgroup, match.group()
        if kind == "punct":
            tokens.append(_Token(lexeme, lexeme, pos))
        elif kind == "string":
            tokens.append(_Token(STRING, lexeme, pos, lexeme[1:-1]))
        elif kind == "word":
            tokens.append(_Token(WORD, lexeme, pos, lexeme))
        pos = match.end()
    tokens.append(_Token(END, "", len(text)))
    return tokens


# ---------------------------------------------------------------- operators

# Every spelling -> its canonical symbol. Looked up lower-cased.
_OPERATORS = {
    "==": "==", "equals": "==",
    "!=": "!=", "not_equals": "!=",
    ">": ">", "greater_than": ">",
    ">=": ">=", "greater_than_equal": ">=",
    "<": "<", "less_than": "<",
    "<=": "<=", "less_than_equal": "<=",
    "exists": "exists",
    "!exists": "!exists", "not_exists": "!exists",
    "in": "in",
    "!in": "!in", "not_in": "!in",
    "=~": "=~", "matches": "=~",
    "!~": "!~", "not_matches": "!~",
}
# Each negative operator is exactly `not` of its positive one, so a missing
# value fails `==` and passes `!=`, and `task:group != x` means no task on
# the instance is in group x.
_NEGATED = {"!=": "==", "!exists": "exists", "!in": "in", "!~": "=~"}
_COMPARE = {"==": operator.eq, ">": operator.gt, ">=": operator.ge,
            "<": operator.lt, "<=": operator.le}

_EQUALITY_OPS = frozenset({"==", "!=", "in", "!in", "=~", "!~"})
_ORDER_OPS = frozenset({"==", "!=", ">", ">=", "<", "<="})
_ALL_OPS = frozenset(_OPERATORS.values())

_AND, _OR, _NOT = frozenset({"and", "&&"}), frozenset({"or", "||"}), frozenset({"not", "!"})


# ---------------------------------------------------------------- parser

class _Parser:
    """Recursive descent over the tokens, returning compiled predicates.

    expression := and_expr (("or" | "||") and_expr)*
    and_expr   := unary (("and" | "&&") unary)*
    unary      := ("not" | "!") unary | "(" expression ")" | condition
    condition  := subject operator [argument | "[" value ("," value)* "]"]
    """

    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.subjects: set[str] = set()

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != END:
            self.index += 1
        return token

    def at_keyword(self, words: frozenset[str]) -> bool:
        token = self.peek()
        return token.kind == WORD and token.text.lower() in words

    def parse(self) -> Predicate:
        predicate = self.parse_or()
        token = self.peek()
        if token.kind == ")":
            raise _invalid("')' has no matching '('", token.pos)
        if token.kind != END:
            raise _invalid(f"unexpected {token.describe()}; expected 'and', 'or' or the end "
                           "of the expression", token.pos)
        return predicate

    def parse_or(self) -> Predicate:
        operands = [self.parse_and()]
        while self.at_keyword(_OR):
            self.advance()
            operands.append(self.parse_and())
        return _any_of(operands)

    def parse_and(self) -> Predicate:
        operands = [self.parse_unary()]
        while self.at_keyword(_AND):
            self.advance()
            operands.append(self.parse_unary())
        return _all_of(operands)

    def parse_unary(self) -> Predicate:
        token = self.peek()
        if self.at_keyword(_NOT):
            self.advance()
            return _negate(self.nested(self.parse_unary, token))
        glued_bang = token.text.startswith("!") and token.text.lower() not in _OPERATORS
        if token.kind == WORD and glued_bang:
            # `!attribute:x exists`: split the `!` off and read the rest as a subject.
            rest = token.text[1:]
            self.tokens[self.index] = _Token(WORD, rest, token.pos + 1, rest)
            return _negate(self.nested(self.parse_unary, token))
        if token.kind == "(":
            self.advance()
            inner = self.nested(self.parse_or, token)
            self.expect_close(token)
            return inner
        return self.parse_condition()

    def nested(self, parse: Callable[[], Predicate], token: _Token) -> Predicate:
        if self.depth >= _MAX_DEPTH:
            raise _invalid(f"the expression nests deeper than {_MAX_DEPTH} levels", token.pos)
        self.depth += 1
        try:
            return parse()
        finally:
            self.depth -= 1

    def expect_close(self, opening: _Token) -> None:
        token = self.advance()
        if token.kind == ")":
            return
        if token.kind == END:
            raise _invalid(f"missing ')' to close the '(' at position {opening.pos + 1}")
        raise _invalid(f"expected ')' to close the '(' at position {opening.pos + 1} "
                       f"but found {token.describe()}", token.pos)

    def parse_condition(self) -> Predicate:
        token = self.advance()
        if token.kind != WORD:
            raise _invalid(f"expected a condition but found {token.describe()}", token.pos)
        subject, spec = token.text, _lookup_subject(token)
        op_token = self.advance()
        op = _OPERATORS.get(op_token.text.lower()) if op_token.kind == WORD else None
        if op is None:
            problem = (f"missing operator after '{subject}'" if op_token.kind in (END, ")")
                       else f"unknown operator {op_token.describe()}")
            raise _invalid(problem, op_token.pos)
        if op not in spec.operators:
            raise _invalid(f"operator '{op_token.text}' can't be used with {subject}, which takes "
                           f"{_describe_operators(spec.operators)}", op_token.pos)
        argument_token = self.peek()
        argument = self.parse_argument(op, op_token)
        try:
            predicate = spec.compile(subject, _NEGATED.get(op, op), argument)
        except _BadArgument as error:
            raise _invalid(str(error), argument_token.pos) from None
        self.subjects.add(subject)
        return _negate(predicate) if op in _NEGATED else predicate

    def parse_argument(self, op: str, op_token: _Token) -> str | tuple[str, ...] | None:
        if op in ("exists", "!exists"):
            return None
        token = self.peek()
        if op in ("in", "!in"):
            if token.kind != "[":
                raise _invalid(f"'{op_token.text}' expects an argument list such as [a, b] but "
                               f"found {token.describe()}", token.pos)
            return self.parse_list()
        if token.kind == "[":
            raise _invalid(f"'{op_token.text}' takes a single value, not a list", token.pos)
        if token.kind not in (WORD, STRING):
            raise _invalid(f"missing argument after '{op_token.text}'", token.pos)
        self.advance()
        return token.value

    def parse_list(self) -> tuple[str, ...]:
        opening = self.advance()
        values = []
        while True:
            token = self.advance()
            if token.kind not in (WORD, STRING):
                raise self.list_error(opening, token, "a value")
            values.append(token.value)
            separator = self.advance()
            if separator.kind == "]":
                return tuple(values)
            if separator.kind != ",":
                raise self.list_error(opening, separator, "',' or ']'")

    @staticmethod
    def list_error(opening: _Token, token: _Token, wanted: str) -> errors.ServiceError:
        if token.kind == END:
            return _invalid(f"missing ']' to close the '[' at position {opening.pos + 1}")
        return _invalid(f"expected {wanted} in the argument list but found {token.describe()}",
                        token.pos)


def _negate(predicate: Predicate) -> Predicate:
    return lambda facts: not predicate(facts)


def _all_of(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:  # the common case, without a loop
        first, second = predicates
        return lambda facts: first(facts) and second(facts)
    predicates = tuple(predicates)

    def every(facts: InstanceFacts) -> bool:
        for predicate in predicates:
            if not predicate(facts):
                return False
        return True
    return every


def _any_of(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda facts: first(facts) or second(facts)
    predicates = tuple(predicates)

    def some(facts: InstanceFacts) -> bool:
        for predicate in predicates:
            if predicate(facts):
                return True
        return False
    return some


# ---------------------------------------------------------------- subjects

@dataclass(frozen=True, slots=True)
class _Subject:
    operators: frozenset[str]  # canonical operators the guide allows
    # (subject text, positive operator, argument) -> predicate; raises _BadArgument.
    compile: Callable[[str, str, str | tuple[str, ...] | None], Predicate]


_ATTRIBUTE_PREFIX = "attribute:"
# The attribute-name rule of PutAttributes: up to 128 letters, digits,
# hyphens, underscores, slashes, backslashes and periods.
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_./\\-]{1,128}")


def _lookup_subject(token: _Token) -> _Subject:
    text = token.text
    if text.startswith(_ATTRIBUTE_PREFIX):
        if not _ATTRIBUTE_NAME.fullmatch(text[len(_ATTRIBUTE_PREFIX):]):
            raise _invalid(f"'{text}' does not name a valid attribute", token.pos)
        return _ATTRIBUTE
    spec = _SUBJECTS.get(text)
    if spec is not None:
        return spec
    hint = ""
    for name in _SUBJECTS:
        if text.lower() == name.lower():
            hint = f" (subjects are case-sensitive: did you mean {name}?)"
    if text.lower().startswith(_ATTRIBUTE_PREFIX):
        name = text[len(_ATTRIBUTE_PREFIX):]
        hint = f" (subjects are case-sensitive: did you mean {_ATTRIBUTE_PREFIX}{name}?)"
    raise _invalid(f"unknown subject '{text}'; expected agentConnected, agentVersion, "
                   f"attribute:<name>, ec2InstanceId, registeredAt, runningTasksCount or "
                   f"task:group{hint}", token.pos)


_OPERATOR_ORDER = ("==", "!=", ">", ">=", "<", "<=", "exists", "!exists", "in", "!in", "=~", "!~")


def _describe_operators(operators: frozenset[str]) -> str:
    return ", ".join(op for op in _OPERATOR_ORDER if op in operators)


def _compile_attribute(subject: str, op: str, argument) -> Predicate:
    name = subject[len(_ATTRIBUTE_PREFIX):]
    if op == "exists":
        return lambda facts: name in facts.attributes
    return _compile_string(lambda facts: facts.attributes.get(name), op, argument)


def _compile_string(get: Callable[[InstanceFacts], str | None], op: str, argument) -> Predicate:
    """A condition on one string value; `get` returns None when there is none."""
    if op == "==":
        return lambda facts: get(facts) == argument
    if op == "in":
        choices = frozenset(argument)
        return lambda facts: get(facts) in choices
    if op == "=~":
        match = _regex(argument)

        def matches(facts: InstanceFacts) -> bool:
            value = get(facts)
            return value is not None and match(value) is not None
        return matches
    compare = _ordering(op, argument)

    def ordered(facts: InstanceFacts) -> bool:
        value = get(facts)
        return value is not None and compare(value)
    return ordered


def _compile_task_group(subject: str, op: str, argument) -> Predicate:
    """Task groups are a set: a condition holds when any task's group satisfies it."""
    if op == "exists":
        return lambda facts: bool(facts.task_groups)
    if op == "==":
        return lambda facts: argument in facts.task_groups
    if op == "in":
        choices = frozenset(argument)
        return lambda facts: not choices.isdisjoint(facts.task_groups)
    if op == "=~":
        match = _regex(argument)
        return lambda facts: any(match(group) is not None for group in facts.task_groups)
    compare = _ordering(op, argument)
    return lambda facts: any(compare(group) for group in facts.task_groups)


def _agent_connected(facts: InstanceFacts) -> str:
    return "true" if facts.agent_connected else "false"


def _ec2_instance_id(facts: InstanceFacts) -> str | None:
    return facts.ec2_instance_id


def _regex(pattern: str) -> Callable[[str], re.Match | None]:
    # ECS patterns are Java regular expressions matched against the whole
    # value (Pattern.matches), so `t2.*` selects t2.micro but `t2` does not.
    try:
        return re.compile(pattern).fullmatch
    except re.error as error:
        raise _BadArgument(f"'{pattern}' is not a valid regular expression ({error.msg})") from None


_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.fullmatch(text) else None


def _ordering(op: str, argument: str) -> Callable[[str], bool]:
    """`value <op> argument`: numerically when both are numbers, else as strings."""
    compare = _COMPARE[op]
    bound = _number(argument)
    if bound is None:
        return lambda value: compare(value, argument)

    def ordered(value: str) -> bool:
        number = _number(value)
        return compare(number, bound) if number is not None else compare(value, argument)
    return ordered


def _compile_running_tasks(subject: str, op: str, argument) -> Predicate:
    if not re.fullmatch(r"[0-9]+", argument):
        raise _BadArgument(f"runningTasksCount compares with a whole number, not '{argument}'")
    count, compare = int(argument), _COMPARE[op]
    return lambda facts: compare(facts.running_tasks_count, count)


_VERSION = re.compile(r"v?([0-9]+(?:\.[0-9]+)*)")


@functools.lru_cache(maxsize=256)
def _version_key(text: str | None) -> tuple[int, ...] | None:
    """1.14.5 -> (1, 14, 5); trailing zeros dropped so 1.14 == 1.14.0.

    Matches a prefix, so an agent reporting 1.14.5-dev still compares.
    """
    match = _VERSION.match(text) if text else None
    if match is None:
        return None
    parts = [int(part) for part in match.group(1).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _compile_agent_version(subject: str, op: str, argument) -> Predicate:
    if not _VERSION.fullmatch(argument):
        raise _BadArgument(f"agentVersion compares with a version such as 1.14.5, not '{argument}'")
    bound, compare = _version_key(argument), _COMPARE[op]

    def ordered(facts: InstanceFacts) -> bool:
        version = _version_key(facts.agent_version)
        return version is not None and compare(version, bound)
    return ordered


# The formats the guide lists: 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z,
# 2018-06-18T22:28:28 and 2018-06-18 (fractional seconds are accepted too).
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
                        r"(?:Z|[+-][0-9]{2}:[0-9]{2})?")


def _parse_when(argument: str) -> date | datetime:
    try:
        if _DATE.fullmatch(argument):
            return date.fromisoformat(argument)
        if _TIMESTAMP.fullmatch(argument):
            return _utc(datetime.fromisoformat(argument))
    except ValueError:
        pass  # right shape, impossible date such as 2018-13-45
    raise _BadArgument(f"registeredAt compares with a date such as 2018-06-18 or "
                       f"2018-06-18T22:28:28Z, not '{argument}'")


def _utc(moment: datetime) -> datetime:
    # Naive timestamps, in expressions and in facts, are UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _compile_registered_at(subject: str, op: str, argument) -> Predicate:
    when, compare = _parse_when(argument), _COMPARE[op]
    if isinstance(when, datetime):
        # Aware datetimes compare correctly across zones; only naive ones need a zone.
        return lambda facts: compare(_aware(facts.registered_at), when)
    # A bare date compares by (UTC) day: `== 2018-06-18` is anything registered
    # that day and `> 2018-06-18` starts the next day.
    return lambda facts: compare(_utc(facts.registered_at).date(), when)


_ATTRIBUTE = _Subject(_ALL_OPS, _compile_attribute)
_SUBJECTS = {
    "agentConnected": _Subject(_EQUALITY_OPS,
                               lambda _, op, arg: _compile_string(_agent_connected, op, arg)),
    "agentVersion": _Subject(_ORDER_OPS, _compile_agent_version),
    "ec2InstanceId": _Subject(_EQUALITY_OPS,
                              lambda _, op, arg: _compile_string(_ec2_instance_id, op, arg)),
    "registeredAt": _Subject(_ORDER_OPS, _compile_registered_at),
    "runningTasksCount": _Subject(_ORDER_OPS, _compile_running_tasks),
    # The guide lists no operator restriction for task groups (nor attributes).
    "task:group": _Subject(_ALL_OPS, _compile_task_group),
}
