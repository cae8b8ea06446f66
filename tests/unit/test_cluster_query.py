"""Unit tests for the ECS cluster query language (nozama.model.cluster_query)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import hypothesis
import hypothesis.strategies
import pytest

from nozama.kernel import errors
from nozama.model import cluster_query
from nozama.model.cluster_query import InstanceFacts, parse_expression

UTC = timezone.utc


def facts(**overrides) -> InstanceFacts:
    """A t3.micro in za-southwest-1a running 3 tasks of service:production."""
    values = dict(
        attributes={
            "ecs.instance-type": "t3.micro",
            "ecs.availability-zone": "za-southwest-1a",
            "ecs.os-type": "linux",
            "color": "blue",
            "cpu": "9",
            "stack": None,
        },
        ec2_instance_id="i-01",
        registered_at=datetime(2016, 10, 20, 12, 30, tzinfo=UTC),
        running_tasks_count=3,
        agent_connected=True,
        agent_version="1.14.4",
        task_groups=frozenset({"service:production", "family:web"}),
    )
    values.update(overrides)
    return InstanceFacts(**values)


def with_attributes(named: dict[str, str | None] | None = None, **simple) -> InstanceFacts:
    return facts(attributes={**(named or {}), **simple})


def check(expression: str, instance: InstanceFacts | None = None) -> bool:
    return parse_expression(expression).matches(instance or facts())


def rejects(expression) -> str:
    with pytest.raises(errors.ecs.InvalidParameterException) as caught:
        parse_expression(expression)
    return caught.value.message


# ------------------------------------------------ the brief's and the guide's examples

@pytest.mark.parametrize("expression", [
    "attribute:ecs.availability-zone in [za-southwest-1a, za-southwest-1b]",
    "attribute:ecs.instance-type =~ t3.*",
    "runningTasksCount > 2",
    "task:group == service:production",
    "not(task:group == database)",
    "(attribute:color == blue or attribute:color == green) and runningTasksCount <= 4",
    "ec2InstanceId in ['i-01', 'i-02']",
    "attribute:stack exists",
    "agentConnected == true",
    "agentVersion < 1.14.5",
    "registeredAt < 2016-10-25",
])
def test_examples_match_the_sample_instance(expression):
    assert check(expression) is True


@pytest.mark.parametrize("expression, instance", [
    ("attribute:ecs.availability-zone in [za-southwest-1a, za-southwest-1b]",
     with_attributes({"ecs.availability-zone": "za-southwest-1c"})),
    ("attribute:ecs.instance-type =~ t3.*", with_attributes({"ecs.instance-type": "m5.large"})),
    ("runningTasksCount > 2", facts(running_tasks_count=2)),
    ("task:group == service:production", facts(task_groups=frozenset({"service:staging"}))),
    ("not(task:group == database)", facts(task_groups=frozenset({"database", "web"}))),
    ("(attribute:color == blue or attribute:color == green) and runningTasksCount <= 4",
     facts(running_tasks_count=5)),
    ("(attribute:color == blue or attribute:color == green) and runningTasksCount <= 4",
     with_attributes(color="red")),
    ("ec2InstanceId in ['i-01', 'i-02']", facts(ec2_instance_id="i-03")),
    ("attribute:stack exists", with_attributes(color="blue")),
    ("agentConnected == true", facts(agent_connected=False)),
])
def test_examples_reject_other_instances(expression, instance):
    assert check(expression, instance) is False


def test_compound_example_from_the_guide():
    expression = ("attribute:ecs.instance-type =~ t2.* and "
                  "attribute:ecs.availability-zone != us-east-1d")

    def instance(instance_type: str, zone: str) -> InstanceFacts:
        return with_attributes({"ecs.instance-type": instance_type, "ecs.availability-zone": zone})
    assert check(expression, instance("t2.small", "us-east-1a"))
    assert not check(expression, instance("t2.small", "us-east-1d"))
    assert not check(expression, instance("t3.small", "us-east-1a"))


def test_guide_examples():
    assert check("attribute:ecs.instance-type == t2.small",
                 with_attributes({"ecs.instance-type": "t2.small"}))
    assert check("attribute:ecs.instance-type =~ g2.*",
                 with_attributes({"ecs.instance-type": "g2.2xlarge"}))
    assert check("runningTasksCount == 1", facts(running_tasks_count=1))
    assert check("registeredAt < 2018-02-13")
    assert check("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
                 facts(ec2_instance_id="i-wxyx7890"))


# ---------------------------------------------------------------- operators and aliases

@pytest.mark.parametrize("symbol, word", [
    ("==", "equals"), ("!=", "not_equals"), (">", "greater_than"), (">=", "greater_than_equal"),
    ("<", "less_than"), ("<=", "less_than_equal"), ("=~", "matches"), ("!~", "not_matches"),
])
@pytest.mark.parametrize("value", ["8", "9", "10", "abc"])
def test_word_aliases_behave_like_symbols(symbol, word, value):
    instance = with_attributes(cpu=value)
    argument = "9" if symbol not in ("=~", "!~") else "'[0-9]+'"
    expected = check(f"attribute:cpu {symbol} {argument}", instance)
    assert check(f"attribute:cpu {word} {argument}", instance) is expected


@pytest.mark.parametrize("symbol, word", [("!in", "not_in"), ("!exists", "not_exists")])
def test_negative_word_aliases(symbol, word):
    argument = " [blue, green]" if symbol == "!in" else ""
    for instance in (facts(), with_attributes(color="red"), with_attributes()):
        expected = check(f"attribute:color {symbol}{argument}", instance)
        assert check(f"attribute:color {word}{argument}", instance) is expected


@pytest.mark.parametrize("expression, expected", [
    ("attribute:color == blue", True),
    ("attribute:color == Blue", False),  # values are case-sensitive
    ("attribute:color != blue", False),
    ("attribute:color != green", True),
    ("attribute:color in [green, blue]", True),
    ("attribute:color in [green]", False),
    ("attribute:color !in [green]", True),
    ("attribute:color !in [green, blue]", False),
    ("attribute:color =~ bl.e", True),
    ("attribute:color =~ BLUE", False),
    ("attribute:color !~ gr.*", True),
    ("attribute:color !~ b.*", False),
    ("attribute:color exists", True),
    ("attribute:color !exists", False),
    ("attribute:color > azure", True),   # string comparison
    ("attribute:color < azure", False),
    ("attribute:color >= blue", True),
    ("attribute:color <= blue", True),
])
def test_attribute_operators(expression, expected):
    assert check(expression) is expected


@pytest.mark.parametrize("expression, expected", [
    ("attribute:cpu > 10", False),    # numerically 9 < 10 (as strings "9" > "10")
    ("attribute:cpu < 10", True),
    ("attribute:cpu >= 9.0", True),
    ("attribute:cpu <= 8.5", False),
    ("attribute:cpu == 9.0", False),  # equality is string equality, as documented
    ("attribute:cpu > abc", False),   # not both numbers: string comparison "9" < "abc"
])
def test_ordering_is_numeric_when_both_sides_are_numbers(expression, expected):
    assert check(expression) is expected


@pytest.mark.parametrize("expression, expected", [
    ("attribute:missing == x", False),
    ("attribute:missing != x", True),
    ("attribute:missing > 1", False),
    ("attribute:missing <= 1", False),
    ("attribute:missing in [x, y]", False),
    ("attribute:missing !in [x, y]", True),
    ("attribute:missing =~ .*", False),
    ("attribute:missing !~ .*", True),
    ("attribute:missing exists", False),
    ("attribute:missing !exists", True),
])
def test_missing_attribute(expression, expected):
    assert check(expression) is expected


@pytest.mark.parametrize("expression, expected", [
    ("attribute:stack exists", True),
    ("attribute:stack !exists", False),
    ("attribute:stack == x", False),
    ("attribute:stack != x", True),
    ("attribute:stack =~ .*", False),
    ("attribute:stack > 0", False),
])
def test_attribute_without_a_value(expression, expected):
    assert check(expression) is expected


# ---------------------------------------------------------------- compound expressions

A, B, C = "attribute:a == 1", "attribute:b == 1", "attribute:c == 1"


def abc(a: bool, b: bool, c: bool) -> InstanceFacts:
    return with_attributes(a="1" if a else "0", b="1" if b else "0", c="1" if c else "0")


ALL_COMBINATIONS = [(a, b, c) for a in (False, True) for b in (False, True) for c in (False, True)]


@pytest.mark.parametrize("a, b, c", ALL_COMBINATIONS)
def test_precedence(a, b, c):
    instance = abc(a, b, c)
    assert check(f"{A} or {B} and {C}", instance) is (a or (b and c))
    assert check(f"{A} and {B} or {C}", instance) is ((a and b) or c)
    assert check(f"not {A} and {B}", instance) is ((not a) and b)
    assert check(f"not {A} or {B}", instance) is ((not a) or b)
    assert check(f"({A} or {B}) and {C}", instance) is ((a or b) and c)
    assert check(f"not ({A} or {B})", instance) is (not (a or b))
    assert check(f"{A} || {B} && {C}", instance) is (a or (b and c))
    assert check(f"!{A} && !({B} || {C})", instance) is ((not a) and not (b or c))


@pytest.mark.parametrize("a, b, c", ALL_COMBINATIONS)
def test_chains_of_three_or_more(a, b, c):
    instance = abc(a, b, c)
    assert check(f"{A} and {B} and {C}", instance) is (a and b and c)
    assert check(f"{A} or {B} or {C}", instance) is (a or b or c)
    assert check(f"{A} and {B} and {C} and {A}", instance) is (a and b and c)
    assert check(f"{A} or {B} or {C} or {A}", instance) is (a or b or c)


def test_negation_forms():
    assert check("not task:group == database")
    assert check("not(task:group == database)")
    assert check("!(task:group == database)")
    assert check("! task:group == database")
    assert not check("not not task:group == database")
    assert check("!attribute:missing exists")
    assert not check("!!attribute:missing exists")
    assert check("not (not (attribute:color == blue))")


def test_keywords_and_operator_words_are_case_insensitive():
    assert check("attribute:color EQUALS blue AND NOT runningTasksCount Greater_Than 5 "
                 "Or agentConnected == false")
    assert check("attribute:color Not_In [green]")


def test_keywords_as_argument_values():
    instance = with_attributes(mode="and", level="not")
    assert check("attribute:mode == and and attribute:level == not", instance)
    assert check("attribute:mode in [or, and]", instance)


def test_whitespace_is_flexible():
    assert check("  ( attribute:color == blue )  ")
    assert check("(attribute:color == blue)and(runningTasksCount > 1)")
    assert check("attribute:color\t==\nblue")
    assert check("attribute:color in [blue,green]")
    assert check("attribute:color in [ blue , green ]")


# ------------------------------------------------ arguments: lists, quoting, patterns

def test_quoted_values_are_unquoted():
    assert check("ec2InstanceId == 'i-01'")
    assert check('ec2InstanceId == "i-01"')
    assert check("ec2InstanceId in ['i-09', \"i-01\"]")
    assert check("attribute:note == 'two words'", with_attributes(note="two words"))
    assert check("attribute:note == 'a, b [c]'", with_attributes(note="a, b [c]"))
    assert check("attribute:note == ''", with_attributes(note=""))
    assert check("attribute:op == 'and'", with_attributes(op="and"))


def test_regex_needs_to_match_the_whole_value():
    assert check("attribute:ecs.instance-type =~ t3.*")
    assert check("attribute:ecs.instance-type =~ .*micro")
    assert not check("attribute:ecs.instance-type =~ t3")
    assert not check("attribute:ecs.instance-type =~ micro")
    assert check("attribute:ecs.instance-type !~ t3")


def test_regex_wildcards_and_classes():
    instance = with_attributes({"ecs.instance-type": "t2.micro"})
    assert check("attribute:ecs.instance-type =~ t2.*", instance)
    assert check("attribute:ecs.instance-type =~ 't[23]\\.(micro|small)'", instance)
    assert not check("attribute:ecs.instance-type =~ 't[34]\\.(micro|small)'", instance)
    assert check("attribute:ecs.instance-type =~ '(?i)T2.MICRO'", instance)
    assert check("attribute:ecs.instance-type =~ t2.m.*o", instance)


def test_single_value_list():
    assert check("attribute:color in [blue]")


# ---------------------------------------------------------------- subjects

def test_agent_connected():
    assert check("agentConnected == true")
    assert check("agentConnected != false")
    assert check("agentConnected == false", facts(agent_connected=False))
    assert check("agentConnected in [true]")
    assert check("agentConnected !in [false]")
    assert check("agentConnected =~ t.*")
    assert check("agentConnected !~ f.*")
    assert not check("agentConnected == TRUE")


def test_agent_version_compares_as_versions():
    assert check("agentVersion < 1.14.5")
    assert check("agentVersion < 1.100.0", facts(agent_version="1.99.9"))  # not string order
    assert check("agentVersion > 1.9", facts(agent_version="1.14.0"))
    assert check("agentVersion == 1.14", facts(agent_version="1.14.0"))
    assert check("agentVersion >= 1.14.4")
    assert check("agentVersion <= 1.14.4")
    assert check("agentVersion != 1.14.5")
    assert check("agentVersion equals 1.14.4")
    assert check("agentVersion > 1.14.4", facts(agent_version="1.14.5-dev"))
    assert not check("agentVersion > 0", facts(agent_version=None))
    assert check("agentVersion != 1.0", facts(agent_version=None))


def test_ec2_instance_id():
    assert check("ec2InstanceId == i-01")
    assert check("ec2InstanceId != i-02")
    assert check("ec2InstanceId =~ i-0.*")
    assert check("ec2InstanceId !~ i-9.*")
    assert check("ec2InstanceId !in [i-02, i-03]")
    assert not check("ec2InstanceId == i-01", facts(ec2_instance_id=None))
    assert check("ec2InstanceId != i-01", facts(ec2_instance_id=None))


def test_running_tasks_count():
    instance = facts(running_tasks_count=3)
    for expression, expected in [("== 3", True), ("!= 3", False), ("> 2", True), ("> 3", False),
                                 (">= 3", True), ("< 3", False), ("<= 3", True), ("< 10", True),
                                 ("less_than_equal 2", False)]:
        assert check(f"runningTasksCount {expression}", instance) is expected, expression


def test_task_group_is_true_when_any_task_is_in_the_group():
    instance = facts(task_groups=frozenset({"service:web", "family:web"}))
    empty = facts(task_groups=frozenset())
    assert check("task:group == service:web", instance)
    assert check("task:group == family:web", instance)
    assert not check("task:group == service:api", instance)
    # != is the negation of ==: no task on the instance is in the group.
    assert not check("task:group != service:web", instance)
    assert check("task:group != service:api", instance)
    assert check("task:group != service:web", empty)
    assert check("task:group in [service:api, family:web]", instance)
    assert not check("task:group !in [service:api, family:web]", instance)
    assert check("task:group =~ service:.*", instance)
    assert not check("task:group =~ service:.*", empty)
    assert check("task:group !~ database.*", instance)
    assert check("task:group exists", instance)
    assert check("task:group !exists", empty)
    assert check("task:group > service:a", instance)
    assert check("task:group == x", facts(task_groups={"x"}))  # any set-like collection


def test_any_attribute_subject():
    instance = with_attributes({"ecs.cpu-architecture": "arm64"})
    assert check("attribute:ecs.cpu-architecture == arm64", instance)
    assert check("attribute:com.example/team_name\\x exists",
                 facts(attributes={"com.example/team_name\\x": "a"}))


class TestRegisteredAt:
    moment = datetime(2018, 6, 18, 22, 28, 28, tzinfo=UTC)
    instance = facts(registered_at=moment)

    @pytest.mark.parametrize("expression, expected", [
        ("registeredAt < 2018-06-19", True),
        ("registeredAt < 2018-06-18", False),
        ("registeredAt == 2018-06-18", True),   # a bare date compares by day
        ("registeredAt != 2018-06-18", False),
        ("registeredAt <= 2018-06-18", True),
        ("registeredAt > 2018-06-18", False),
        ("registeredAt >= 2018-06-18", True),
        ("registeredAt > 2018-06-17", True),
        ("registeredAt == 2018-06-18T22:28:28+00:00", True),
        ("registeredAt == 2018-06-18T22:28:28Z", True),
        ("registeredAt == 2018-06-18T22:28:28", True),
        ("registeredAt == 2018-06-19T00:28:28+02:00", True),
        ("registeredAt < 2018-06-18T22:28:28.5Z", True),
        ("registeredAt > 2018-06-18T22:28:27Z", True),
        ("registeredAt >= 2018-06-18T22:28:29Z", False),
        ("registeredAt greater_than 2016-10-25", True),
    ])
    def test_comparisons(self, expression, expected):
        assert check(expression, self.instance) is expected

    def test_naive_facts_are_utc(self):
        naive = facts(registered_at=self.moment.replace(tzinfo=None))
        assert check("registeredAt == 2018-06-18T22:28:28Z", naive)
        assert check("registeredAt == 2018-06-18", naive)

    def test_day_is_the_utc_day(self):
        # 01:00 on the 19th in UTC+3 is 22:00 on the 18th in UTC.
        local = facts(registered_at=datetime(2018, 6, 19, 1, tzinfo=timezone(timedelta(hours=3))))
        assert check("registeredAt == 2018-06-18", local)


# ---------------------------------------------------------------- the parsed object

def test_subjects():
    expression = parse_expression(
        "attribute:ecs.instance-type =~ t2.* and (runningTasksCount > 2 or not task:group == db) "
        "or attribute:ecs.instance-type == x")
    assert expression.subjects == {"attribute:ecs.instance-type", "runningTasksCount", "task:group"}
    assert parse_expression("agentConnected == true").subjects == {"agentConnected"}


def test_matching_never_reparses(monkeypatch):
    expression = parse_expression("(attribute:color == blue or attribute:color == green) and "
                                  "runningTasksCount <= 4")

    def fail(*args):
        raise AssertionError("re-parsed")
    monkeypatch.setattr(cluster_query, "_tokenize", fail)
    monkeypatch.setattr(cluster_query, "_Parser", fail)
    assert expression.matches(facts()) is True
    assert expression.matches(facts(running_tasks_count=9)) is False


def test_parse_is_cached_and_repr_shows_text():
    text = "runningTasksCount > 2"
    assert parse_expression(text) is parse_expression(text)
    assert text in repr(parse_expression(text))
    assert parse_expression(text).text == text


def test_default_facts():
    expression = parse_expression("runningTasksCount == 0 and agentConnected == true")
    assert expression.matches(InstanceFacts())


def test_expression_of_2000_characters():
    condition = "attribute:color == green"
    text = condition
    while len(text) + len(" or ") + len(condition) <= 1975:
        text += " or " + condition
    text += " or attribute:color == blue"
    assert len(text) <= 2000
    assert check(text)


# ---------------------------------------------------------------- invalid expressions

@pytest.mark.parametrize("expression", [
    "",
    "   ",
    "(runningTasksCount > 1",                     # unbalanced
    "((runningTasksCount > 1)",
    "runningTasksCount > 1)",
    "(runningTasksCount > 1))",
    ")runningTasksCount > 1(",
    "()",
    "runningTasksCount ~ 1",                      # unknown operator
    "runningTasksCount => 1",
    "runningTasksCount is 1",
    "runningTasksCount",                          # missing operator
    "runningTasksCount >",                        # missing argument
    "(runningTasksCount >)",
    "attribute:color ==",
    "attribute:color in",
    "unknownSubject == 1",                        # unknown subject
    "RunningTasksCount > 1",
    "attribute: == x",
    "attribute:bad name == x",
    "attribute:a:b == x",
    "runningTasksCount > 1 garbage",              # trailing garbage
    "runningTasksCount > 1 2",
    "runningTasksCount > 1 and",
    "and runningTasksCount > 1",
    "runningTasksCount > 1 or or runningTasksCount < 1",
    "not",
    "runningTasksCount > 1 attribute:color == blue",
    "(runningTasksCount) > 1",                    # no parentheses inside a single condition
    "attribute:color == blue)",
    "attribute:color == [blue]",                  # list where one value is expected
    "attribute:color in blue",                    # value where a list is expected
    "attribute:color in [blue",
    "attribute:color in [blue green]",
    "attribute:color in []",
    "attribute:color in [blue,]",
    "attribute:color in [,blue]",
    "attribute:color exists blue",
    "attribute:color == 'blue",                   # unclosed quote
    "attribute:color == \"blue",
    "'attribute:color' == blue",
    "attribute:color =~ *",                       # invalid regex
    "attribute:color =~ 'a(b'",
    "runningTasksCount > two",                    # bad arguments for typed subjects
    "runningTasksCount > -1",
    "runningTasksCount > 1.5",
    "agentVersion < latest",
    "registeredAt < yesterday",
    "registeredAt < 2018-13-01",
    "registeredAt < 2018-06-18T25:00:00Z",
    "registeredAt < 18-06-2018",
    "runningTasksCount in [1, 2]",                # operators the guide doesn't list for the subject
    "runningTasksCount =~ 1",
    "runningTasksCount exists",
    "agentConnected > 1",
    "agentConnected exists",
    "ec2InstanceId < i-1",
    "ec2InstanceId exists",
    "registeredAt =~ 2018.*",
    "agentVersion in [1.0]",
])
def test_invalid_expressions_are_rejected(expression):
    message = rejects(expression)
    assert message.startswith("The filter expression is invalid")


@pytest.mark.parametrize("expression, fragments", [
    ("", ["empty"]),
    ("(runningTasksCount > 1", ["missing ')'", "position 1"]),
    ("runningTasksCount > 1)", ["')' has no matching '('", "position 22"]),
    ("runningTasksCount ~ 1", ["unknown operator '~'", "position 19"]),
    ("runningTasksCount >", ["missing argument after '>'", "position 20"]),
    ("whatever == 1", ["unknown subject 'whatever'", "position 1"]),
    ("RunningTasksCount > 1", ["did you mean runningTasksCount"]),
    ("runningTasksCount > 1 garbage", ["unexpected 'garbage'", "position 23"]),
    ("ec2InstanceId > i-1", ["can't be used with ec2InstanceId", "position 15"]),
    ("attribute:color in [blue", ["missing ']'", "position 20"]),
    ("attribute:color == 'blue", ["not closed", "position 20"]),
    ("runningTasksCount > two", ["whole number", "position 21"]),
    ("attribute:x =~ 'a(b'", ["not a valid regular expression", "position 16"]),
])
def test_error_messages_name_the_problem_and_position(expression, fragments):
    message = rejects(expression)
    for fragment in fragments:
        assert fragment in message


def test_too_long_is_rejected():
    assert "longer than 2000" in rejects("attribute:x exists or " * 100 + "attribute:x exists")


def test_deep_nesting_is_rejected_without_recursion_error():
    assert "nests deeper" in rejects("(" * 500 + "attribute:x exists" + ")" * 500)
    assert "nests deeper" in rejects("not " * 400 + "attribute:x exists")
    assert check("(" * 50 + "attribute:color exists" + ")" * 50)


@pytest.mark.parametrize("value", [None, 42, b"runningTasksCount > 1"])
def test_non_strings_are_rejected(value):
    rejects(value)


# ---------------------------------------------------------------- precedence against Python's own

def test_random_boolean_trees_agree_with_python():
    st = hypothesis.strategies
    names = ["a", "b", "c", "d"]
    leaves = st.sampled_from(names).map(lambda n: (f"attribute:{n} == 1", n))


    # Each tree is (cluster query text, the same expression in Python); both
    # languages bind not > and > or, so the texts mirror each other exactly.
    def extend(children):
        negations = st.tuples(st.sampled_from(["not ", "!", "not(", "!("]), children).map(
            lambda t: (f"{t[0]}{t[1][0]})", f"not ({t[1][1]})") if t[0].endswith("(")
            else (f"{t[0]}{t[1][0]}", f"not {t[1][1]}"))
        binaries = st.tuples(children, st.sampled_from(["and", "&&", "or", "||"]), children).map(
            lambda t: (f"{t[0][0]} {t[1]} {t[2][0]}",
                       f"{t[0][1]} {'and' if t[1] in ('and', '&&') else 'or'} {t[2][1]}"))
        groups = children.map(lambda c: (f"({c[0]})", f"({c[1]})"))
        return st.one_of(negations, binaries, groups)

    trees = st.recursive(leaves, extend, max_leaves=8)

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(trees, st.tuples(*[st.booleans()] * 4))
    def agree(tree, bits):
        text, python = tree
        env = dict(zip(names, bits))
        instance = facts(attributes={f"{n}": "1" if env[n] else "0" for n in names})
        assert parse_expression(text).matches(instance) is eval(python, {}, env)

    agree()
