"""CloudWatch Logs filter patterns: which events FilterLogEvents returns.

`compile_pattern(text)` turns a pattern into a predicate on an event's message.
What Nozama reads (all matching is case-sensitive, as in CloudWatch Logs):

- an empty pattern matches every event;
- terms, separated by spaces, are substrings the message must contain:
  `ERROR`, `"quoted phrase"` (backslash escapes a quote inside); all plain
  terms must appear, a term written `?term` is an alternative (at least one of
  them must appear), and `-term` excludes events containing it;
- `%regex%` as a term matches the regular expression anywhere in the message;
- JSON patterns `{ $.selector op value }` test fields of messages that are
  JSON objects: selectors `$.a.b`, `$.list[0].c`; operators `=` and `!=` for
  strings (quoted or bare, `*` a wildcard) and numbers, `<`, `<=`, `>`, `>=`
  for numbers; `IS TRUE`, `IS FALSE`, `IS NULL`, `NOT EXISTS`; conditions
  combined with `&&`, `||` and parentheses. A comparison on a field that is
  missing, or of another JSON type than the value, does not match (`!=` neither).

Space-delimited patterns (`[ip, user, ...]`) are not supported yet: they are
refused with InvalidParameterException rather than silently matching nothing.
"""

from __future__ import annotations

from nozama.kernel import errors
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable


Predicate = Callable[[str], bool]
_MISSING = object()


def _invalid(problem: str) -> errors.logs.InvalidParameterException:
    return errors.logs.InvalidParameterException(f"Invalid filter pattern: {problem}")


@functools.lru_cache(maxsize=256)
def compile_pattern(text: str) -> Predicate:
    """A predicate on messages for `text`, or InvalidParameterException."""
    stripped = text.strip()
    if not stripped:
        return lambda message: True
    if stripped.startswith("{"):
        return _json_predicate(stripped)
    if stripped.startswith("["):
        raise _invalid("space-delimited patterns ([...]) are not supported by Nozama yet")
    return _terms_predicate(stripped)


# --- terms --------------------------------------------------------------------

@dataclass
class _Terms:
    required: list[Predicate] = field(default_factory=list)
    optional: list[Predicate] = field(default_factory=list)
    excluded: list[Predicate] = field(default_factory=list)

    def __call__(self, message: str) -> bool:
        return (all(t(message) for t in self.required)
                and not any(t(message) for t in self.excluded)
                and (not self.optional or any(t(message) for t in self.optional)))


def _terms_predicate(text: str) -> Predicate:
    terms = _Terms()
    for kind, term in _split_terms(text):
        {"?": terms.optional, "-": terms.excluded, "": terms.required}[kind].append(term)
    return terms


def _split_terms(text: str) -> list[tuple[str, Predicate]]:
    found, pos = [], 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        prefixed = text[pos] in "?-" and pos + 1 < len(text) and not text[pos + 1].isspace()
        kind = text[pos] if prefixed else ""
        pos += len(kind)
        if text[pos] == '"':
            literal, pos = _quoted(text, pos)
            found.append((kind, _contains(literal)))
            continue
        # A %regex% term may hold spaces: it ends at the next %.
        end = max(text.find("%", pos + 1) + 1, pos) if text[pos] == "%" else pos
        while end < len(text) and not text[end].isspace():
            end += 1
        found.append((kind, _term(text[pos:end])))
        pos = end
    return found


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """The string of the quoted literal starting at `pos`, and the position after it."""
    chars, i = [], pos + 1
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
        elif text[i] == '"':
            return "".join(chars), i + 1
        else:
            chars.append(text[i])
            i += 1
    raise _invalid(f"the quoted term starting at position {pos + 1} is not closed")


def _term(word: str) -> Predicate:
    if len(word) > 2 and word.startswith("%") and word.endswith("%"):
        try:
            expression = re.compile(word[1:-1])
        except re.error as error:
            raise _invalid(f"bad regular expression {word}: {error}") from None
        return lambda message: expression.search(message) is not None
    return _contains(word)


def _contains(literal: str) -> Predicate:
    return lambda message: literal in message


# --- JSON patterns ------------------------------------------------------------

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<punct>&&|\|\||[(){}])
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<selector>\$(?:\.[^\s.\[\]()=!<>&|{}]+|\[\d+\])*)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<word>[^\s()=!<>&|{}"]+)
    )""", re.VERBOSE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_SELECTOR_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _invalid(f"unexpected character at position {pos + 1}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return tokens


def _json_predicate(text: str) -> Predicate:
    tokens = _tokenize(text)
    if tokens[0] != ("punct", "{") or tokens[-1] != ("punct", "}"):
        raise _invalid("a JSON pattern is written { $.field = value }")
    parser = _Parser(tokens[1:-1])
    condition = parser.expression()
    if not parser.done():
        raise _invalid(f"unexpected {parser.peek()[1]!r}")

    def predicate(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict) and condition(document)
    return predicate


class _Parser:
    """Recursive descent over `a && b || (c)`: && binds tighter than ||."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.pos = tokens, 0

    def done(self) -> bool:
        return self.pos == len(self.tokens)

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if not self.done() else ("end", "end of pattern")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end":
            raise _invalid("the pattern ends too early")
        self.pos += 1
        return token

    def expression(self) -> Callable[[Any], bool]:
        parts = [self.conjunction()]
        while self.peek() == ("punct", "||"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else lambda doc: any(p(doc) for p in parts)

    def conjunction(self) -> Callable[[Any], bool]:
        parts = [self.primary()]
        while self.peek() == ("punct", "&&"):
            self.take()
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else lambda doc: all(p(doc) for p in parts)

    def primary(self) -> Callable[[Any], bool]:
        kind, text = self.take()
        if (kind, text) == ("punct", "("):
            inner = self.expression()
            if self.take() != ("punct", ")"):
                raise _invalid("missing ')'")
            return inner
        if kind != "selector":
            raise _invalid(f"expected a selector such as $.field, found {text!r}")
        return self.condition(_selector(text))

    def condition(self, select: Callable[[Any], Any]) -> Callable[[Any], bool]:
        kind, text = self.take()
        if kind == "word" and text.upper() in ("IS", "NOT"):
            return self.state(text.upper(), select)
        if kind != "op":
            raise _invalid(f"expected a comparison operator, found {text!r}")
        compare = _comparison(text, *self.take())
        return lambda doc: compare(select(doc))

    def state(self, keyword: str, select: Callable[[Any], Any]) -> Callable[[Any], bool]:
        word = self.take()[1].upper()
        if keyword == "NOT" and word == "EXISTS":
            return lambda doc: select(doc) is _MISSING
        tests = {"TRUE": lambda v: v is True, "FALSE": lambda v: v is False,
                 "NULL": lambda v: v is None}
        if keyword != "IS" or word not in tests:
            raise _invalid(f"unknown test {keyword} {word}")
        test = tests[word]
        return lambda doc: test(select(doc))


def _selector(text: str) -> Callable[[Any], Any]:
    steps = [name if name else int(index) for name, index in _SELECTOR_PART.findall(text[1:])]

    def select(document):
        value = document
        for step in steps:
            if isinstance(step, str) and isinstance(value, dict) and step in value:
                value = value[step]
            elif isinstance(step, int) and isinstance(value, list) and step < len(value):
                value = value[step]
            else:
                return _MISSING
        return value
    return select


def _comparison(op: str, kind: str, text: str) -> Callable[[Any], bool]:
    if kind == "word" and _NUMBER.fullmatch(text):
        return _numeric(op, float(text))
    if kind not in ("word", "string"):
        raise _invalid(f"expected a value after {op}, found {text!r}")
    if op not in ("=", "!="):
        raise _invalid(f"{op} compares numbers only, not {text!r}")
    try:
        literal = json.loads(text) if kind == "string" else text
    except ValueError:
        raise _invalid(f"bad escape in {text}") from None
    matches = _wildcard(literal)
    if op == "=":
        return lambda value: isinstance(value, str) and matches(value)
    return lambda value: isinstance(value, str) and not matches(value)


def _numeric(op: str, number: float) -> Callable[[Any], bool]:
    compare = {"=": float.__eq__, "!=": float.__ne__, "<": float.__lt__, "<=": float.__le__,
               ">": float.__gt__, ">=": float.__ge__}[op]
    return lambda value: (isinstance(value, (int, float)) and not isinstance(value, bool)
                          and compare(float(value), number))


def _wildcard(literal: str) -> Callable[[str], bool]:
    if "*" not in literal:
        return lambda value: value == literal
    expression = re.compile(".*".join(re.escape(part) for part in literal.split("*")), re.S)
    return lambda value: expression.fullmatch(value) is not None
