"""Parsing CakePHP hash paths, and compiling them into fast extraction functions.

``Hash::extract`` walks a context list token by token. Filters run it over every attribute of
events with thousands of them, so :func:`compile` turns a path, once, into one generated list
comprehension (a ``for`` clause per token, conditions inlined), with fast paths for the lists
and dicts JSON data is made of and the PHP semantics in small fallback helpers for the rest.
Generating code keeps the per-item cost close to a hand-written comprehension's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from . import php
from .errors import InvalidPathError, PhpTypeError
from .php import compare, is_array, loose_eq, numeric_info, php_key
from .preg import Regex, compile_php_regex

_MISSING = php._MISSING
_CACHE_LIMIT = 4096

# ---------------------------------------------------------------------------------------------
# Parsing


def tokenize(path: str) -> list[str]:
    """``CakeText::tokenize($path, '.', '[', ']')``: split on dots outside brackets, then trim.

    A stray ``]`` makes the depth negative, and dots after it no longer split (quirk).
    """
    if not path or path == "0":
        return []
    results: list[str] = []
    buffer: list[str] = []
    depth = 0
    for ch in path:
        if ch == "." and depth == 0:
            results.append("".join(buffer))
            buffer = []
            continue
        buffer.append(ch)
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
    results.append("".join(buffer))
    return [token.strip(" \t\n\r\0\x0b") for token in results]


# Hash::_matches: '/(\[ (?P<attr>[^=><!]+?) (\s* (?P<op>[><!]?[=]|[><]) \s* (?P<val>(?:\/.*?\/ | [^\]]+)) )? \])/x'
CONDITION = re.compile(
    r"\[(?P<attr>[^=><!]+?)(?:[ \t\n\x0b\f\r]*(?P<op>[><!]?=|[><])[ \t\n\x0b\f\r]*"
    r"(?P<val>/.*?/|[^\]]+))?\]"
)


def split_conditions(token: str) -> tuple[str, str | None]:
    """``Hash::_splitConditions``: the key part and the conditions from the first ``[``."""
    position = token.find("[")
    if position < 0:
        return token, None
    return token[:position], token[position:]


# ---------------------------------------------------------------------------------------------
# Conditions


def _subject(prop: Any, source: str) -> str:
    """``preg_match``'s string argument: scalars convert, arrays are a TypeError."""
    if prop.__class__ is str:
        return prop
    if prop is None:
        return ""  # PHP 8.1+: deprecated, treated as ""
    if is_array(prop):
        raise PhpTypeError(f"preg_match(): Argument #2 ($subject) must be of type string, array given "
                           f"(condition with {source})")
    return php.to_string(prop)


def _memoized(test: Callable[[Any], bool]) -> tuple[dict[Any, Any], Callable[[Any], bool]]:
    """``test`` on a property, remembering the answers for strings (values repeat a lot)."""
    cache: dict[str, bool] = {}

    def cached(prop: Any) -> bool:
        result = test(prop)
        if prop.__class__ is str:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[prop] = result
        return result

    return cache, cached


@dataclass(frozen=True)
class Condition:
    """One ``[attr op val]`` of ``Hash::_matches``.

    ``prop_test(prop)`` decides for an existing property value (``test(item)`` for a whole
    item); ``cache`` holds remembered answers for string properties (regex and ordering tests).
    """

    attr: str
    op: str | None
    val: str | None
    prop_test: Callable[[Any], bool] = field(repr=False, compare=False)
    regex: Regex | None = None
    cache: dict[Any, Any] | None = field(default=None, repr=False, compare=False)
    key: Any = field(default=None, repr=False, compare=False)

    def test(self, item: Any) -> bool:
        """Whether array ``item`` satisfies this condition."""
        prop = php.lookup(item, self.key, _MISSING)
        if self.op is None:
            return prop is not _MISSING and prop is not None
        return prop is not _MISSING and self.prop_test(prop)


def make_condition(attr: str, op: str | None, val: str | None) -> Condition:
    key = php_key(attr)
    if op is None:  # presence: isset($item[$attr])
        return Condition(attr, op, val, lambda prop: prop is not None, key=key)
    # booleans compare as "1"/"0" against a numeric value, else as "true"/"false"
    as_true, as_false = ("1", "0") if php.is_numeric(val) else ("true", "false")

    def prop_of(prop: Any) -> Any:
        return as_true if prop is True else (as_false if prop is False else prop)

    regex = compile_php_regex(val) if op == "=" and val and val[0] == "/" else None
    cache = None
    if regex is not None:
        pattern_text = val or ""  # a regex literal: val is "/..."
        cache, test = _memoized(lambda prop: regex.match(_subject(prop_of(prop), pattern_text)))
    elif op == "=":
        def test(prop: Any) -> bool:
            return loose_eq(prop_of(prop), val)
    elif op == "!=":
        def test(prop: Any) -> bool:
            return not loose_eq(prop_of(prop), val)
    else:
        # The item fails when: '>': prop <= val; '<': prop >= val; '>=': prop < val; '<=': prop > val
        # (PHP evaluates $a > $b as $b < $a, hence the swapped operands).
        fails: Callable[[Any], bool] = {
            ">": lambda p: compare(p, val) <= 0,
            "<": lambda p: compare(val, p) <= 0,
            ">=": lambda p: compare(p, val) < 0,
            "<=": lambda p: compare(val, p) < 0,
        }[op]
        cache, test = _memoized(lambda prop: not fails(prop_of(prop)))
    return Condition(attr, op, val, test, regex, cache, key)


def parse_conditions(text: str) -> tuple[Condition, ...]:
    """Every condition ``preg_match_all`` finds in ``text``; unparseable parts are ignored (as in PHP)."""
    return tuple(make_condition(m["attr"], m["op"], m["val"]) for m in CONDITION.finditer(text))


@dataclass(frozen=True)
class Token:
    text: str
    key: str
    conditions_text: str | None
    conditions: tuple[Condition, ...]

    def matches_key(self, key: Any) -> bool:
        """``Hash::_matchToken($key, $token)`` for a PHP key."""
        if self.key == "{n}":
            return _numeric_key(key)
        if self.key == "{s}":
            return key.__class__ is str
        if self.key == "{*}":
            return True
        if php.is_numeric(self.key):
            return loose_eq(key, self.key)
        return key.__class__ is str and key == self.key

    def matches(self, item: Any) -> bool:
        """``Hash::_matches($item, $conditions)``; PHP requires ``$item`` to be an array."""
        if not is_array(item):
            raise PhpTypeError(f"Hash::_matches(): Argument #1 ($data) must be of type array, "
                               f"{php.php_type_name(item)} given (conditions {self.conditions_text})")
        return all(c.test(item) for c in self.conditions)


def make_token(text: str) -> Token:
    key, conditions_text = split_conditions(text)
    conditions = parse_conditions(conditions_text) if conditions_text else ()
    return Token(text, key, conditions_text, conditions)


# ---------------------------------------------------------------------------------------------
# Key matching for the items the generated fast paths leave to these helpers


def _numeric_key(key: Any) -> bool:
    return key.__class__ is int or (key.__class__ is str and numeric_info(key) is not None)


def _pairs(item: Any) -> Any:
    """``(array)$item`` as (key, value) pairs: null is empty, a scalar is ``[0 => scalar]``."""
    if item is None:
        return ()
    if is_array(item):
        return php.iter_items(item)
    return ((0, item),)


def _numeric_values(item: Any) -> list[Any]:  # {n}
    if item.__class__ is dict:
        return [v for k, v in item.items() if k.__class__ is int or _numeric_key(k)]
    return [v for k, v in _pairs(item) if _numeric_key(k)]


def _any_values(item: Any) -> list[Any]:  # {*}
    if item.__class__ is dict:
        return list(item.values())
    return [v for _, v in _pairs(item)]


def _string_values(item: Any) -> list[Any]:  # {s}: string keys (canonical integers are int keys)
    if isinstance(item, dict):
        return [v for k, v in item.items() if k.__class__ is str and php_key(k).__class__ is str]
    return []


def _literal_value(key: str) -> Callable[[Any], Any]:
    """A non-numeric literal: ``$k === $token``, so only a string key of that exact name
    (``_MISSING`` when there is none: list keys are integers, a scalar's only key is 0)."""
    def value(item: Any) -> Any:
        return php.lookup(item, key, _MISSING) if isinstance(item, dict) else _MISSING

    return value


def _numeric_literal_values(token: str) -> Callable[[Any], list[Any]]:
    """A numeric literal: ``$k == $token`` (loose), so ``0``, ``00`` or ``0.0`` all match key 0."""
    info = numeric_info(token)
    assert info is not None  # callers pass numeric literals only
    is_double, number, _ = info

    def key_matches(key: Any) -> bool:
        key = php_key(key)
        if key.__class__ is str:
            return loose_eq(key, token)
        return float(key) == number if is_double else key == number

    def values(item: Any) -> list[Any]:
        return [v for k, v in _pairs(item) if key_matches(k)]

    return values


def list_index(token: str) -> int | None:
    """The one list index a numeric literal can match (None when it matches none or is unusual)."""
    info = numeric_info(token)
    if info is None:
        return None
    is_double, number, _ = info
    if is_double:
        return int(number) if float(number).is_integer() and 0 <= number < 2**62 else None
    return int(number) if number >= 0 else None  # an int already: not a double


# ---------------------------------------------------------------------------------------------
# Code generation


_EMPTY: dict[Any, Any] = {}  # read-only: the default of the fast path's lookups


def _plain_literal(token: Token) -> bool:
    """A string-literal token without conditions (one dict key, read with ``item[key]``)."""
    return not token.conditions_text and token.key not in ("{n}", "{*}", "{s}") and not php.is_numeric(token.key)


_MAX_LOOPS = 15  # tokens per generated function: at most that many nested loops (CPython: 20)


class _Env:
    """Names the generated code can use, and the constants it binds."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {"M": _MISSING, "is_array": is_array, "dict": dict, "list": list,
                                      "str": str, "as_array": _as_array}

    def bind(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self.names)}"
        self.names[name] = value
        return name

    def define(self, lines: list[str]) -> Callable[[Any], Any]:
        """Compile ``def extract(v0):`` + body; the bound names are the function's globals
        (CPython caches global lookups, the cheapest way to reach constants from a function)."""
        source = "\n".join(lines) + "\n"
        namespace = dict(self.names)
        exec(source, namespace)  # noqa: S102 - the source only names the bound constants
        function = namespace["extract"]
        function.source = source
        return cast("Callable[[Any], Any]", function)


def _condition_fails(cond: Condition, env: _Env) -> str:
    """An expression true when the dict item whose property was just read into the local ``p``
    fails ``cond``: strings are decided inline, anything else by ``T`` (the PHP semantics)."""
    test = env.bind("T", cond.prop_test)
    if cond.op is None:
        return "p is None"
    numeric_val = numeric_info(cond.val) is not None
    if cond.cache is not None:  # regex and ordering: remembered answers for string values
        cache = env.bind("C", cond.cache)
        # (a get, not `in` then `[]`: another thread may clear the cache in between)
        return (f"not ((r if (r := {cache}.get(p)) is not None else {test}(p)) if p.__class__ is str"
                f" else p is not M and {test}(p))")
    val = env.bind("V", cond.val)
    if cond.op == "=":
        if not numeric_val:  # a string equals a non-numeric string only when identical
            return f"p != {val} and (p.__class__ is str or p is M or not {test}(p))"
        true_ok, false_ok = env.bind("B", cond.prop_test(True)), env.bind("B", cond.prop_test(False))
        return (f"not ({true_ok} if p is True else {false_ok} if p is False else"
                f" (p == {val} or p is not M and {test}(p)))")
    if cond.op == "!=" and not numeric_val:
        return f"p == {val} or p.__class__ is not str and (p is M or not {test}(p))"
    return f"p is M or not {test}(p)"


def _condition_check(var: str, token: Token, env: _Env, emit: Callable[[str], None], skip: str) -> None:
    """Statements skipping ``var`` unless it is an array meeting every condition, in order."""
    if not token.conditions:
        emit(f"if {var}.__class__ is not dict and not is_array({var}): {skip}")
        return
    emit(f"if {var}.__class__ is dict:")
    for cond in token.conditions:
        if cond.key.__class__ is str:
            emit(f"    p = {var}.get({env.bind('A', cond.key)}{'' if cond.op is None else ', M'})")
            emit(f"    if {_condition_fails(cond, env)}: {skip}")
        else:
            emit(f"    if not {env.bind('T', cond.test)}({var}): {skip}")
    tests = [f"{env.bind('T', c.test)}({var})" for c in token.conditions]
    emit(f"elif not (is_array({var}){''.join(' and ' + t for t in tests)}): {skip}")


def _generate(tokens: tuple[Token, ...]) -> Callable[[Any], list[Any]]:
    """Straight-line code for the path: a loop per wildcard, a lookup per literal, the
    conditions inline. Very long paths are split into chained functions (same result order).
    """
    if len(tokens) > _MAX_LOOPS:
        head, tail = _generate(tokens[:_MAX_LOOPS]), _generate(tokens[_MAX_LOOPS:])
        return lambda data: [value for item in head(data) for value in tail(item)]
    env = _Env()
    lines = ["def extract(v0):"]
    depth, loops = 1, 0
    if len(tokens) >= 2 and all(_plain_literal(t) for t in tokens[:-2]) and _plain_literal(tokens[-1]) \
            and tokens[-2].key in ("{n}", "{*}") and not tokens[-2].conditions_text:
        # Event.Tag.{n}.name on JSON data is one comprehension. Anything unusual on the way
        # (a list where a dict is expected, a map to iterate, a missing final key) raises, and
        # the general code below decides; a missing intermediate key yields {} hence [].
        chain = "v0" + "".join(f".get({env.bind('K', t.key)}, EMPTY)" for t in tokens[:-2])
        env.names["EMPTY"] = _EMPTY
        lines += ["    try:",
                  f"        seq = {chain}",
                  "        if not seq: return []  # nothing, or a scalar: no key to read",
                  f"        return [e[{env.bind('K', tokens[-1].key)}] for e in seq]",
                  "    except Exception:",
                  "        pass"]

    def emit(line: str) -> None:
        lines.append("    " * depth + line)

    last = len(tokens) - 1
    # A final plain key (``....name``) is read after the loops, in one comprehension over every
    # item that reached it, because that is the level with the most items.
    plain_tail = _plain_literal(tokens[last]) and last > 0
    flatten = plain_tail and tokens[last - 1].key in ("{n}", "{*}") and not tokens[last - 1].conditions_text
    stop = last - 1 if flatten else last if plain_tail else last + 1
    parents_at_top = plain_tail and all(t.key not in ("{n}", "{*}", "{s}") and not php.is_numeric(t.key)
                                  for t in tokens[:stop])
    if not plain_tail:
        lines += ["    out = []", "    append = out.append"]
    elif not parents_at_top:
        lines.append("    parents = []")
    for i, token in enumerate(tokens):
        prev, var, key = f"v{i}", f"v{i + 1}", token.key
        if i == stop:
            values = f"({prev} if {prev}.__class__ is list else " \
                     f"{env.bind('N', _numeric_values if key == '{n}' else _any_values)}({prev}))" if flatten else None
            if parents_at_top:  # no loop around: read the list in place
                emit(f"parents = {values}" if flatten else f"parents = ({prev},)")
            else:
                emit(f"parents += {values}" if flatten else f"parents.append({prev})")
            break
        skip = "continue" if loops else "return []"
        wildcard = key in ("{n}", "{*}")
        if wildcard and not token.conditions_text and i == last:  # ...{n}: the whole list at once
            values = f"({prev} if {prev}.__class__ is list else " \
                     f"{env.bind('N', _numeric_values if key == '{n}' else _any_values)}({prev}))"
            emit(f"out.extend({values})" if loops else f"return list({values})")
            break
        if wildcard:
            slow = env.bind("N", _numeric_values if key == "{n}" else _any_values)
            emit(f"for {var} in ({prev} if {prev}.__class__ is list else {slow}({prev})):")
            depth, loops = depth + 1, loops + 1
        elif key == "{s}":
            emit(f"for {var} in {env.bind('N', _string_values)}({prev}):")
            depth, loops = depth + 1, loops + 1
        elif php.is_numeric(key):
            slow = env.bind("N", _numeric_literal_values(key))
            index = list_index(key)
            fast = f"({prev}[{index}],) if {prev}.__class__ is list and len({prev}) > {index} else " \
                if index is not None else ""
            emit(f"for {var} in ({fast}{slow}({prev})):")
            depth, loops = depth + 1, loops + 1
        else:  # a string literal matches one key at most
            name, slow = env.bind("K", key), env.bind("N", _literal_value(key))
            emit(f"{var} = {prev}.get({name}, M) if {prev}.__class__ is dict else {slow}({prev})")
            emit(f"if {var} is M: {skip}")
        if token.conditions_text:  # even "[]" or unparseable conditions drop the non-array items
            _condition_check(var, token, env, emit, "continue" if loops else "return []")
        if i == last:
            emit(f"append({var})")
    if plain_tail:
        key = tokens[last].key
        name, slow = env.bind("K", key), env.bind("N", _literal_value(key))
        # e[key] reads dicts (and mappings) as PHP would; anything else raises, and the exact
        # (slower) comprehension decides instead.
        lines += ["    if len(parents) < 16:  # a comprehension costs more than it saves on few items",
                  "        out = []",
                  "        for e in parents:",
                  f"            x = e.get({name}, M) if e.__class__ is dict else {slow}(e)",
                  "            if x is not M: out.append(x)",
                  "        return out",
                  "    try:",
                  f"        return [e[{name}] for e in parents]",
                  "    except Exception:",
                  f"        return [x for e in parents if (x := e.get({name}, M) if e.__class__ is dict"
                  f" else {slow}(e)) is not M]"]
    else:
        lines.append("    return out")
    return env.define(lines)


def _as_array(value: Any) -> Any:
    """``(array)$value``."""
    if value is None:
        return []
    if is_array(value):
        return value
    return [value]


def _walk_step(key: Any) -> Callable[[Any], Any]:
    """``Hash::get``'s step for containers other than dicts (or numeric keys): value or None."""
    def step(value: Any) -> Any:
        return php.lookup(value, key) if is_array(value) else None

    return step


def _generate_simple(parts: tuple[str, ...]) -> Callable[[Any], Any]:
    """``(array)Hash::get($data, $path)`` as straight-line code."""
    env = _Env()
    lines = ["def extract(v0):", "    v = v0"]
    for part in parts:
        step = env.bind("W", _walk_step(part))
        if php_key(part).__class__ is str:
            key = env.bind("K", part)
            lines.append(f"    v = v.get({key}) if v.__class__ is dict else {step}(v)")
        else:
            lines.append(f"    v = {step}(v)")
        lines.append("    if v is None: return []")
    lines.append("    return [v] if v.__class__ is str else v if v.__class__ is list or v.__class__ is dict "
                 "else as_array(v)")
    return env.define(lines)


@dataclass(frozen=True)
class CompiledPath:
    """A parsed path. ``extract(data)`` is ``Hash::extract`` for an array ``data`` (callers check
    the type); ``simple`` paths (no ``{`` or ``[``) are a ``Hash::get`` walk of ``parts``."""

    source: str
    simple: bool
    parts: tuple[str, ...] = ()
    tokens: tuple[Token, ...] = ()
    extract: Callable[[Any], Any] = field(kw_only=True, repr=False, compare=False)


@functools.lru_cache(maxsize=2048)
def compile(path: str) -> CompiledPath:  # noqa: A001 - the name other modules use
    """Parse ``path`` once; the result is cached and shared (it is immutable)."""
    if not isinstance(path, str):
        raise InvalidPathError(f"hash path must be a string, not {php.php_type_name(path)}")
    if "{" not in path and "[" not in path:
        parts = tuple(path.split("."))
        return CompiledPath(path, True, parts=parts, extract=_generate_simple(parts))
    tokens = tuple(make_token(t) for t in (tokenize(path) if "[" in path else path.split(".")))
    return CompiledPath(path, False, tokens=tokens, extract=_generate(tokens))
