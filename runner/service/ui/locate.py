"""Where a hash path's matches are in the data, for the playground to highlight them.

``misp_modules.semantics.hashpath`` answers what MISP's ``Hash::extract`` returns (values, not
places). This walks the same compiled tokens the way CakePHP's ``extract`` loop does (each
token keeps the children whose key matches, then the conditions filter them) while carrying
each value's location, and keeps the answer only when its values are exactly ``extract``'s:
any quirk this walk does not reproduce shows the result without highlights, never wrong ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from misp_modules.semantics import hashpath, php

Location = tuple[Any, ...]


def pointer(location: Location) -> str:
    """RFC 6901 JSON Pointer of a location (keys as the JSON text spells them)."""
    return "".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in location)


def _children(location: Location, item: Any) -> Iterator[tuple[Location, Any, Any]]:
    """``foreach ((array)$item as $k => $v)``: (location, PHP key, value)."""
    if isinstance(item, dict):
        for key, value in item.items():
            yield (*location, key), php.php_key(key), value
    elif isinstance(item, (list, tuple)):
        for index, value in enumerate(item):
            yield (*location, index), index, value
    elif item is not None:  # a scalar cast to an array is [0 => scalar], in place
        yield location, 0, item


def _get_location(data: Any, parts: tuple[str, ...]) -> Location | None:
    location: list[Any] = []
    value = data
    for part in parts:
        key = php.php_key(part)
        if isinstance(value, dict):
            found = next((k for k in value if php.php_key(k) == key and value[k] is not None), None)
            if found is None:
                return None
            location.append(found)
            value = value[found]
        elif isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value) and value[key] is not None:
            location.append(key)
            value = value[key]
        else:
            return None
    return tuple(location)


def locate(data: Any, path: str) -> list[Location] | None:
    """The locations of ``Hash::extract(data, path)``'s results, in its order; ``None`` when
    they cannot be told apart (the walk disagrees with ``extract``, or the result is not a list
    of elements of ``data``). Errors ``extract`` raises propagate."""
    expected = hashpath.extract(data, path)
    if path in ("", "0"):
        return [()]
    compiled = hashpath.compile(path)
    if compiled.simple:
        location = _get_location(data, compiled.parts)
        if location is None:
            return [] if expected == [] else None
        return [location]
    context: list[tuple[Location, Any]] = [((), data)]
    for token in compiled.tokens:
        matched = [(loc, value) for base, item in context for loc, key, value in _children(base, item)
                   if token.matches_key(key)]
        if token.conditions:
            matched = [(loc, value) for loc, value in matched if php.is_array(value) and token.matches(value)]
        context = matched
    values = [value for _, value in context]
    if not isinstance(expected, list) or php.dumps(values) != php.dumps(expected):
        return None
    return [loc for loc, _ in context]
