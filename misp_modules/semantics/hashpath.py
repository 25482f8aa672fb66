"""CakePHP 2.x ``Hash`` (extract, get, check, insert, remove, combine) with PHP 8 semantics.

MISP reads every workflow path through this class, quirks included: a simple path returns the
array itself, scalars act as one-element arrays, ``{n}`` matches numeric-looking keys, conditions
compare loosely, malformed paths silently match something or nothing. Paths are parsed and
compiled once (:func:`compile`, cached; see :mod:`.pathcompiler`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import php
from .errors import InvalidPathError, PhpTypeError, SemanticsError
from .pathcompiler import CONDITION, CompiledPath, _as_array, compile, make_token, tokenize
from .php import is_array, is_empty, numeric_info, php_key

__all__ = ["CompiledPath", "check", "combine", "compile", "extract", "get", "insert", "remove",
           "tokenize", "validate"]


class CakeException(SemanticsError):
    """CakePHP's ``CakeException`` (``Hash::combine`` with unequal numbers of keys and values)."""


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


def _walk(data: Any, parts: Sequence[Any], default: Any) -> Any:
    """``Hash::get``'s loop: each step needs an array with the key set to a non-null value."""
    for key in parts:
        if is_array(key):  # PHP 8: isset($data[<array>]) is a TypeError
            raise PhpTypeError("Illegal offset type in isset or empty")
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


_EXTRACTORS: dict[str, Any] = {}  # path -> compiled extract function, in front of compile()'s cache


def extract(data: Any, path: Any) -> Any:
    """``Hash::extract($data, $path)``: the data itself for an empty path, the array itself (or
    ``[scalar]``) for a simple path, else the list of matches."""
    try:  # the hot path: a path seen before, on JSON data (only string paths are stored)
        function = _EXTRACTORS[path]
    except (KeyError, TypeError):
        pass
    else:
        if data.__class__ is dict or data.__class__ is list:
            return function(data)
    return _extract(data, path)


def _extract(data: Any, path: Any) -> Any:
    if data.__class__ is not dict and data.__class__ is not list:
        _require_array(data, "extract")
    if path.__class__ is str:
        if path == "" or path == "0":
            return data
        function = compile(path).extract
        if len(_EXTRACTORS) >= 4096:
            _EXTRACTORS.clear()
        _EXTRACTORS[path] = function
        return function(data)
    if is_empty(path):
        return data
    text = _path_string(path, "preg_match")
    if "{" not in text and "[" not in text:
        return _as_array(get(data, path))
    return compile(text).extract(data)


def get(data: Any, path: Any, default: Any = None) -> Any:
    """``Hash::get($data, $path, $default)``: a dotted walk without patterns (``{n}`` is a key)."""
    _require_array(data, "get")
    if not data or path is None:
        return default  # "" is not a shortcut: explode('.', '') is [''], the key '' (MISP's quirk)
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
        if CONDITION.sub("", token.conditions_text).strip() or not token.conditions:
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


def _existing_key(container: dict[Any, Any], key: Any) -> Any:
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
            items = list(container)
            if key == len(items):
                items.append(value)
            else:
                items[key] = value
            return items
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
    out: dict[Any, Any] = {}
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
    token = make_token(head)
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
    token = make_token(head)
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
            out: dict[Any, Any] = {}
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


def _format(data: Any, paths: Any) -> list[Any]:
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
        out.append(php.sprintf(php.to_string(fmt), args))
    return out
