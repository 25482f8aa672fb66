"""CakePHP 2.x ``Hash`` (extract, get, check, insert, remove, combine) with PHP 8 semantics.

MISP reads every workflow path through this class, quirks included: a simple path returns the
array itself, scalars act as one-element arrays, ``{n}`` matches numeric-looking keys, conditions
compare loosely, malformed paths silently match something or nothing. Paths are parsed once
(:func:`compile`, cached) into steps, each a tight loop over the current context list, because
filters run them over every attribute of large events.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from . import php
from .errors import InvalidPathError, PhpTypeError, SemanticsError
from .php import INT64_MAX, INT64_MIN, compare, is_array, is_empty, loose_eq, numeric_info, php_key
from .preg import Regex, compile_php_regex

_MISSING = php._MISSING

__all__ = ["CompiledPath", "check", "combine", "compile", "extract", "get", "insert", "remove",
           "tokenize", "validate"]


class CakeException(SemanticsError):
    """CakePHP's ``CakeException`` (``Hash::combine`` with unequal numbers of keys and values)."""


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
_CONDITION = re.compile(
    r"\[(?P<attr>[^=><!]+?)(?:[ \t\n\x0b\f\r]*(?P<op>[><!]?=|[><])[ \t\n\x0b\f\r]*"
    r"(?P<val>/.*?/|[^\]]+))?\]"
)


def _split_conditions(token: str) -> tuple[str, str | None]:
    """``Hash::_splitConditions``: the key part and the conditions from the first ``[``."""
    position = token.find("[")
    if position < 0:
        return token, None
    return token[:position], token[position:]


@dataclass(frozen=True)
class Condition:
    """One ``[attr op val]``; ``test(item)`` is ``Hash::_matches`` for this condition alone."""

    attr: str
    op: str | None
    val: str | None
    regex: Regex | None = None
    test: Callable[[Any], bool] = field(default=None, repr=False, compare=False)


def _item_getter(attr: str) -> Callable[[Any], Any]:
    """``$item[$attr]`` (``_MISSING`` when unset) for an array item, as fast as a dict lookup."""
    key = php_key(attr)
    alt = str(key) if key.__class__ is int else None
    missing = _MISSING

    def getter(item: Any) -> Any:
        if item.__class__ is dict:
            value = item.get(key, missing)
            if value is missing and alt is not None:
                return item.get(alt, missing)
            return value
        return php.lookup(item, key, missing)

    return getter


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


def _make_condition(attr: str, op: str | None, val: str | None) -> Condition:
    get = _item_getter(attr)
    missing = _MISSING
    if op is None:  # presence test: isset($item[$attr])
        def present(item: Any) -> bool:
            value = get(item)
            return value is not missing and value is not None

        return Condition(attr, op, val, test=present)

    bool_true, bool_false = ("1", "0") if php.is_numeric(val) else ("true", "false")
    regex = compile_php_regex(val) if op == "=" and val and val[0] == "/" else None

    def prop_of(item: Any) -> Any:
        value = get(item)
        if value is True:
            return bool_true
        if value is False:
            return bool_false
        return value

    if regex is not None:
        def test(item: Any) -> bool:
            prop = prop_of(item)
            return prop is not missing and regex.match(_subject(prop, val))
    elif op == "=":
        # A string equals a non-numeric string only when identical: the common case stays cheap.
        val_numeric = numeric_info(val) is not None

        def test(item: Any) -> bool:
            prop = prop_of(item)
            if prop.__class__ is str:
                return prop == val or (val_numeric and loose_eq(prop, val))
            return prop is not missing and loose_eq(prop, val)
    elif op == "!=":
        def test(item: Any) -> bool:
            prop = prop_of(item)
            return prop is not missing and not loose_eq(prop, val)
    else:
        # Fail when: '>': prop <= val; '<': prop >= val; '>=': prop < val; '<=': prop > val
        # ($a > $b is evaluated by PHP as $b < $a, hence the swapped operands).
        def fails(prop: Any) -> bool:
            if op == ">":
                return compare(prop, val) <= 0
            if op == "<":
                return compare(val, prop) <= 0
            if op == ">=":
                return compare(prop, val) < 0
            return compare(val, prop) < 0

        def test(item: Any) -> bool:
            prop = prop_of(item)
            return prop is not missing and not fails(prop)

    return Condition(attr, op, val, regex, test)


def parse_conditions(text: str) -> tuple[Condition, ...]:
    """Every condition ``preg_match_all`` finds in ``text``; unparseable parts are ignored (as in PHP)."""
    return tuple(_make_condition(m["attr"], m["op"], m["val"]) for m in _CONDITION.finditer(text))


# ---------------------------------------------------------------------------------------------
# Key matching steps: each takes the context list and returns the next one.


def _numeric_key(key: Any) -> bool:
    return key.__class__ is int or (key.__class__ is str and numeric_info(key) is not None)


def _string_key(key: Any) -> bool:
    return key.__class__ is str and php_key(key).__class__ is str


def _as_items(item: Any) -> Any:
    """``(array)$item`` as (key, value) pairs for the rare non-list/dict items."""
    if item is None:
        return ()
    if is_array(item):
        return php.iter_items(item)
    return ((0, item),)


def _step_numeric(context: list) -> list:  # {n}
    out: list = []
    for item in context:
        cls = item.__class__
        if cls is list:
            out.extend(item)
        elif cls is dict:
            out.extend([v for k, v in item.items() if k.__class__ is int or _numeric_key(k)])
        elif item is not None:
            out.extend([v for k, v in _as_items(item) if _numeric_key(k)])
    return out


def _step_string(context: list) -> list:  # {s}
    out: list = []
    for item in context:
        if item.__class__ is dict:
            out.extend([v for k, v in item.items() if _string_key(k)])
        elif isinstance(item, dict):
            out.extend([v for k, v in php.iter_items(item) if k.__class__ is str])
    return out


def _step_any(context: list) -> list:  # {*}
    out: list = []
    for item in context:
        cls = item.__class__
        if cls is list:
            out.extend(item)
        elif cls is dict:
            out.extend(item.values())
        elif item is not None:
            out.extend([v for _, v in _as_items(item)])
    return out


def _step_literal(key: str) -> Callable[[list], list]:
    """A non-numeric literal: ``$k === $token``, so only a string key of that exact name."""
    missing = _MISSING

    def step(context: list) -> list:
        out = []
        for item in context:
            if item.__class__ is dict:
                value = item.get(key, missing)
                if value is not missing:
                    out.append(value)
            elif isinstance(item, dict):
                value = php.lookup(item, key, missing)
                if value is not missing:
                    out.append(value)
        return out

    return step


def _step_numeric_literal(token: str) -> Callable[[list], list]:
    """A numeric literal: ``$k == $token`` (loose), e.g. ``0``, ``05`` or ``1.0`` all match key 0/1."""
    is_double, number, _ = numeric_info(token)
    index = None
    if not is_double:
        index = number
    elif float(number).is_integer() and abs(number) < 2**62:
        index = int(number)

    def key_matches(key: Any) -> bool:
        if key.__class__ is str:
            key = php_key(key)
            if key.__class__ is str:
                return loose_eq(key, token)
        if is_double:
            return float(key) == number
        return key == number

    def step(context: list) -> list:
        out = []
        for item in context:
            cls = item.__class__
            if cls is list:
                if index is not None and 0 <= index < len(item):
                    out.append(item[index])
            elif cls is dict:
                out.extend([v for k, v in item.items() if key_matches(k)])
            elif item is not None:
                out.extend([v for k, v in _as_items(item) if key_matches(k)])
        return out

    return step


def _filter_step(conditions: tuple[Condition, ...]) -> Callable[[list], list]:
    """Keep the items that are arrays and satisfy every condition (Hash::_matches)."""
    tests = tuple(c.test for c in conditions)
    if len(tests) == 1:
        (test,) = tests

        def step(context: list) -> list:
            return [v for v in context if (v.__class__ is dict or v.__class__ is list or is_array(v)) and test(v)]
    else:
        def step(context: list) -> list:
            return [v for v in context
                    if (v.__class__ is dict or v.__class__ is list or is_array(v)) and all(t(v) for t in tests)]
    return step


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


def _make_token(text: str) -> Token:
    key, conditions_text = _split_conditions(text)
    conditions = parse_conditions(conditions_text) if conditions_text else ()
    return Token(text, key, conditions_text, conditions)


def _steps_for(token: Token) -> list[Callable[[list], list]]:
    if token.key == "{n}":
        steps = [_step_numeric]
    elif token.key == "{s}":
        steps = [_step_string]
    elif token.key == "{*}":
        steps = [_step_any]
    elif php.is_numeric(token.key):
        steps = [_step_numeric_literal(token.key)]
    else:
        steps = [_step_literal(token.key)]
    if token.conditions_text:  # even "[]" or unparseable conditions drop non-array items
        steps.append(_filter_step(token.conditions))
    return steps


@dataclass(frozen=True)
class CompiledPath:
    """A parsed path. ``simple`` paths (no ``{`` or ``[``) are a ``Hash::get`` walk."""

    source: str
    simple: bool
    parts: tuple[str, ...] = ()
    tokens: tuple[Token, ...] = ()
    steps: tuple[Callable[[list], list], ...] = field(default=(), repr=False, compare=False)

    def extract(self, data: Any) -> Any:
        """``Hash::extract($data, $path)`` for an array ``data`` (callers check the type)."""
        if self.simple:
            return _as_array(_walk(data, self.parts, None))
        context = [data]
        for step in self.steps:
            context = step(context)
            if not context:
                break
        return context


@functools.lru_cache(maxsize=2048)
def compile(path: str) -> CompiledPath:  # noqa: A001 - the name other modules use
    """Parse ``path`` once; the result is cached and shared (it is immutable)."""
    if not isinstance(path, str):
        raise InvalidPathError(f"hash path must be a string, not {php.php_type_name(path)}")
    if "{" not in path and "[" not in path:
        return CompiledPath(path, True, parts=tuple(path.split(".")))
    tokens = tuple(_make_token(t) for t in (tokenize(path) if "[" in path else path.split(".")))
    steps = tuple(step for token in tokens for step in _steps_for(token))
    return CompiledPath(path, False, tokens=tokens, steps=steps)


# ---------------------------------------------------------------------------------------------
# Path arguments of other types (PHP converts them), and the array type hints


def _require_array(data: Any, function: str) -> None:
    if not is_array(data):
        raise PhpTypeError(f"Hash::{function}(): Argument #1 ($data) must be of type array, "
                           f"{php.php_type_name(data)} given")


def _path_string(path: Any, function: str) -> str:
    """The string PHP's string functions see for a non-string path argument."""
    if path.__class__ is str:
        return path
    if is_array(path):
        raise PhpTypeError(f"{function}(): Argument #{2 if function == 'preg_match' else 1} "
                           f"(${'subject' if function == 'preg_match' else 'haystack'}) must be of type "
                           f"string, array given")
    try:
        return php.to_string(path)
    except PhpTypeError:
        raise InvalidPathError(f"invalid hash path {path!r}: not a string") from None


def _as_array(value: Any) -> Any:
    """``(array)$value``."""
    if value is None:
        return []
    if is_array(value):
        return value
    return [value]


def _walk(data: Any, parts: Sequence[Any], default: Any) -> Any:
    """``Hash::get``'s loop: each step needs an array with the key set to a non-null value."""
    for key in parts:
        if data.__class__ is dict:
            value = data.get(key) if key.__class__ is str else None
            if value is None:
                value = php.lookup(data, key)
        elif is_array(data):
            value = php.lookup(data, key)
        else:
            return default
        if value is None:
            return default
        data = value
    return data


# ---------------------------------------------------------------------------------------------
# Hash API


def extract(data: Any, path: Any) -> Any:
    """``Hash::extract($data, $path)``: the data itself for an empty path, the array itself (or
    ``[scalar]``) for a simple path, else the list of matches."""
    if data.__class__ is not dict and data.__class__ is not list:
        _require_array(data, "extract")
    if path.__class__ is str:
        if path == "" or path == "0":
            return data
        return compile(path).extract(data)
    if is_empty(path):
        return data
    text = _path_string(path, "preg_match")
    if "{" not in text and "[" not in text:
        return _as_array(get(data, path))
    return compile(text).extract(data)


def get(data: Any, path: Any, default: Any = None) -> Any:
    """``Hash::get($data, $path, $default)``: a dotted walk without patterns (``{n}`` is a key)."""
    _require_array(data, "get")
    if not data or path is None or path == "":
        return default
    if path.__class__ is str:
        parts: Sequence[Any] = path.split(".")
    elif path is True or path is False:
        parts = (path,)
    elif isinstance(path, (int, float)):
        parts = php.to_string(path).split(".")
    elif isinstance(path, (list, tuple)):
        parts = path
    elif isinstance(path, dict):
        parts = list(path.values())
    else:
        raise InvalidPathError(f"Invalid path parameter: {path!r}, should be dot separated path or array.")
    return _walk(data, parts, default)


def check(data: Any, path: Any) -> bool:
    """``Hash::check``: the extraction is a non-empty array."""
    _require_array(data, "check")
    result = extract(data, path)
    return is_array(result) and len(result) > 0


def validate(path: str) -> str | None:
    """Problems a workflow author should fix in ``path`` (None when there are none).

    MISP accepts every string and silently matches something or nothing; this reports the
    mistakes behind such surprises: a regex that does not compile, unbalanced brackets,
    conditions MISP does not understand, and brace tokens that are not ``{n}``/``{s}``/``{*}``.
    """
    if not isinstance(path, str):
        return f"not a string ({php.php_type_name(path)})"
    depth = 0
    for ch in path:
        depth += (ch == "[") - (ch == "]")
        if depth < 0:
            return "unbalanced brackets: ']' without '['"
    if depth:
        return "unbalanced brackets: '[' without ']'"
    if "{" not in path and "[" not in path:
        return None
    for token in compile(path).tokens:
        if ("{" in token.key or "}" in token.key) and token.key not in ("{n}", "{s}", "{*}"):
            return f"token {token.key!r} is not a wildcard ({{n}}, {{s}} or {{*}}) and matches a literal key only"
        if token.conditions_text is None:
            continue
        if _CONDITION.sub("", token.conditions_text).strip() or not token.conditions:
            return f"condition {token.conditions_text!r} is not understood by MISP (it is ignored)"
        for condition in token.conditions:
            if condition.regex is not None and condition.regex.error:
                return f"condition [{condition.attr}={condition.val}]: {condition.regex.error}"
    return None


# ---------------------------------------------------------------------------------------------
# insert / remove (copy-on-write: the caller's data is never modified)


def _int_like_key(key: str) -> Any:
    """``Hash::_simpleOp``'s key cast: ``(int)`` for positive numeric strings not starting with 0."""
    if key.__class__ is not str:
        return key
    info = numeric_info(key)
    if info is None or key.startswith("0"):
        return key
    is_double, value, _ = info
    as_int = int(value) if (not is_double or abs(value) < 2**63) else 0
    return as_int if as_int > 0 else key


def _existing_key(container: dict, key: Any) -> Any:
    """The Python key under which PHP key ``key`` is stored in ``container`` (or ``key``)."""
    if key in container:
        return key
    if key.__class__ is int and str(key) in container:
        return str(key)
    return key


def _set(container: Any, key: Any, value: Any) -> Any:
    """A copy of array ``container`` with ``$container[$key] = $value``."""
    key = php_key(key)
    if isinstance(container, (list, tuple)):
        if key.__class__ is int and 0 <= key <= len(container):
            out = list(container)
            if key == len(out):
                out.append(value)
            else:
                out[key] = value
            return out
        container = dict(enumerate(container))
    out = dict(container)
    out[_existing_key(out, key)] = value
    return out


def _unset(container: Any, key: Any) -> Any:
    """A copy of array ``container`` without ``$key`` (remaining keys are kept, not renumbered)."""
    key = php_key(key)
    if isinstance(container, (list, tuple)):
        if key.__class__ is not int or not 0 <= key < len(container):
            return container
        if key == len(container) - 1:
            return list(container[:-1])
        return {i: v for i, v in enumerate(container) if i != key}
    stored = _existing_key(container, key)
    if stored not in container:
        return container
    out = dict(container)
    del out[stored]
    return out


def _items(data: Any) -> list[tuple[Any, Any]]:
    return list(php.iter_items(data))


def _merge(value: Any, values: Any, token: str) -> Any:
    """``array_merge($value, (array)$values)``: string keys overwrite, integer keys renumber."""
    if not is_array(value):
        raise PhpTypeError(f"array_merge(): Argument #1 must be of type array, {php.php_type_name(value)} "
                           f"given (insert at {token!r})")
    out: dict = {}
    n = 0
    for source in (value, _as_array(values)):
        for k, v in php.iter_items(source):
            if k.__class__ is int:
                out[n] = v
                n += 1
            else:
                out[k] = v
    return list(out.values()) if php.is_list_keys(list(out)) else out


def _simple_insert(data: Any, parts: list[str], values: Any) -> Any:
    key = _int_like_key(parts[0])
    if len(parts) == 1:
        return _set(data, key, values)
    child = php.lookup(data, key)
    if not is_array(child):  # unset, null or a scalar: replaced by an empty array
        child = []
    return _set(data, key, _simple_insert(child, parts[1:], values))


def _string_offset_isset(text: str, key: Any) -> bool:
    key = php_key(key)
    size = len(text.encode("utf-8"))
    return key.__class__ is int and -size <= key < size


def _simple_remove(data: Any, parts: list[str]) -> Any:
    key = _int_like_key(parts[0])
    if len(parts) == 1:
        return _unset(data, key)
    child = php.lookup(data, key)
    if child is None:
        return data
    if is_array(child):
        return _set(data, key, _simple_remove(child, parts[1:]))
    if len(parts) > 2 and child.__class__ is str and _string_offset_isset(child, _int_like_key(parts[1])):
        raise SemanticsError(f"Hash::remove(): cannot descend into the string at {parts[0]!r} "
                             "(PHP: Cannot create references to/from string offsets)")
    return data


def insert(data: Any, path: Any, values: Any = None) -> Any:
    """``Hash::insert($data, $path, $values)``: a new structure with ``values`` set at ``path``.

    With wildcards or conditions the value is set at every matching location, and an existing
    array there is ``array_merge``d with ``values`` (quirk).
    """
    _require_array(data, "insert")
    key, path = path, _path_string(path, "strpos")
    no_tokens = "[" not in path
    if no_tokens and "." not in path and "{" not in path:
        return _set(data, key, values)  # $data[$path]: false is key 0, not ""
    tokens = path.split(".") if no_tokens else tokenize(path)
    if no_tokens and "{" not in path:
        return _simple_insert(data, tokens, values)
    head, rest = tokens[0], ".".join(tokens[1:])
    token = _make_token(head)
    out = data
    for k, v in _items(data):
        if token.matches_key(k) and (not token.conditions_text or token.matches(v)):
            if rest and rest != "0":  # PHP: if ($nextPath)
                _require_array(v, "insert")
                new = insert(v, rest, values)
            else:
                new = _merge(v, values, path)
            out = _set(out, k, new)
    return out


def remove(data: Any, path: Any) -> Any:
    """``Hash::remove($data, $path)``: a new structure without the matching entries.

    Keys are not renumbered, and arrays left empty by a pattern removal are removed too.
    """
    _require_array(data, "remove")
    key, path = path, _path_string(path, "strpos")
    no_tokens = "[" not in path
    no_expansion = "{" not in path
    if no_expansion and no_tokens and "." not in path:
        return _unset(data, key)
    tokens = path.split(".") if no_tokens else tokenize(path)
    if no_expansion and no_tokens:
        return _simple_remove(data, tokens)
    head, rest = tokens[0], ".".join(tokens[1:])
    token = _make_token(head)
    out = data
    for k, v in _items(data):
        match = token.matches_key(k)
        if match and is_array(v):
            if token.conditions_text:
                if token.matches(v):
                    out = _set(out, k, remove(v, rest)) if rest != "" else _unset(out, k)
            else:
                out = _set(out, k, remove(v, rest))
            if is_empty(php.lookup(out, k)):
                out = _unset(out, k)
        elif match and rest == "":
            out = _unset(out, k)
    return out


def _combine_key(value: Any) -> Any:
    """An ``array_combine`` key: integers as they are, anything else through its string."""
    if value.__class__ is int:
        return php_key(value)
    if is_array(value):
        return "Array"  # PHP: "Array to string conversion"
    return php_key(php.to_string(value))


def _offset_key(value: Any) -> Any:
    """``$out[$value]``: floats truncate, booleans are 0/1, null is ""; arrays are illegal."""
    if is_array(value):
        raise PhpTypeError("Hash::combine(): Illegal offset type (a group value is an array)")
    return php_key(value)


def combine(data: Any, key_path: Any, value_path: Any = None, group_path: Any = None) -> Any:
    """``Hash::combine``: a map built from the extracted keys and values (grouped if asked)."""
    _require_array(data, "combine")
    if is_empty(data):
        return []
    keys = _format(data, key_path) if is_array(key_path) else extract(data, key_path)
    if is_empty(keys):
        return []
    vals: Any = None
    if not is_empty(value_path) and is_array(value_path):
        vals = _format(data, value_path)
    elif not is_empty(value_path):
        vals = extract(data, value_path)
    if is_empty(vals):
        vals = [None] * len(keys)
    keys, vals = [v for _, v in php.iter_items(keys)], [v for _, v in php.iter_items(vals)]
    if len(keys) != len(vals):
        raise CakeException("Hash::combine() needs an equal number of keys + values.")
    if group_path is not None:
        group = extract(data, group_path)
        if not is_empty(group):
            out: dict = {}
            for i, key in enumerate(keys):
                g = php.lookup(group, i)
                g = _offset_key(0 if g is None else g)
                out.setdefault(g, {})[_offset_key(key)] = vals[i]
            return _as_php(out)
    out = {}
    for key, value in zip(keys, vals):
        out[_combine_key(key)] = value
    return _as_php(out)


def _as_php(value: Any) -> Any:
    """A dict whose keys are ``0..n-1`` in order as the list PHP would encode it as."""
    if isinstance(value, dict):
        value = {k: _as_php(v) for k, v in value.items()}
        if php.is_list_keys(list(value)):
            return list(value.values())
    return value


def _format(data: Any, paths: Any) -> list:
    """``Hash::format($data, $paths, $format)`` with ``$format = array_shift($paths)``."""
    items = [v for _, v in php.iter_items(paths)]
    if not items:
        return []
    fmt, paths = items[0], items[1:]
    if not paths:
        return []
    extracted = [[v for _, v in php.iter_items(_as_array(extract(data, p)))] for p in paths]
    out = []
    for j in range(len(extracted[0])):
        args = [column[j] for column in extracted if j < len(column)]
        out.append(php_sprintf(php.to_string(fmt), args))
    return out


_SPRINTF = re.compile(r"%(?:(\d+)\$)?((?:[-+ 0]|'.)*)(\d+)?(?:\.(\d+))?([bcdeEfFgGosuxX%])")


def php_sprintf(fmt: str, args: list) -> str:
    """A ``vsprintf`` covering the conversions ``Hash::format`` is used with."""
    position = 0

    def convert(m: re.Match) -> str:
        nonlocal position
        argnum, flag_text, width, precision, spec = m.groups()
        if spec == "%":
            return "%"
        flags = re.findall(r"[-+ 0]|'.", flag_text)
        if argnum:
            index = int(argnum) - 1
        else:
            index = position
            position += 1
        if index >= len(args):
            raise SemanticsError(f"vsprintf(): too few arguments for format {fmt!r}")
        arg = args[index]
        if spec == "s":
            text = php.to_string(arg)
            if precision is not None:
                text = text[:int(precision)]
        elif spec in "duc":
            number = _to_int(arg)
            text = chr(number) if spec == "c" else str(number if spec == "d" else number % 2**64)
            if spec == "d" and "+" in flags and number >= 0:
                text = "+" + text
        elif spec in "xXob":
            number = _to_int(arg) % 2**64
            text = format(number, {"x": "x", "X": "X", "o": "o", "b": "b"}[spec])
        else:
            number = float(_to_number(arg))
            p = 6 if precision is None else int(precision)
            text = format(number, f".{p}{spec if spec in 'eEgG' else 'f'}")
            if "+" in flags and number >= 0:
                text = "+" + text
        if width and len(text) < int(width):
            pad = next((f[1] for f in flags if f.startswith("'")), "0" if "0" in flags else " ")
            text = text.ljust(int(width), pad) if "-" in flags else text.rjust(int(width), pad)
        return text

    return _SPRINTF.sub(convert, fmt)


def _to_number(value: Any) -> int | float:
    return php.to_number(value)


def _to_int(value: Any) -> int:
    return php.intval(value)
