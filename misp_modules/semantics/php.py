"""PHP 8's value model, as MISP's workflow code sees JSON data.

PHP has one ordered-map type for lists and objects, turns canonical-integer string keys into
integers, and compares loosely with ``==``/``<``. A workflow decides differently here than in
MISP as soon as one of these rules is off by a little, so they are spelled out once, here.

Data is plain Python: ``None``, ``bool``, ``int``, ``float``, ``str``, ``list`` and ``dict``. A
``list`` is a PHP array with keys ``0..n-1``; a ``dict`` may use ``int`` keys or the strings a
plain ``json.loads`` leaves (``"12"``): both mean the integer key 12. Integers outside the signed
64-bit range are treated as the floats PHP would hold.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from json.encoder import encode_basestring
from typing import Any, cast

from .errors import PhpTypeError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# ---------------------------------------------------------------------------------------------
# Keys


_CANONICAL_INT = re.compile(r"-?[1-9][0-9]*|0")


def php_key(key: Any) -> int | str:
    """The key PHP stores for ``key`` (``"12"`` -> 12, ``"012"``/``"-0"``/``"1.5"`` stay strings)."""
    cls = key.__class__
    if cls is str:
        if key and (key[0] in "-0123456789") and _CANONICAL_INT.fullmatch(key):
            value = int(key)
            if INT64_MIN <= value <= INT64_MAX:
                return value
        return cast(str, key)
    if cls is int:
        return cast(int, key)
    if cls is bool:
        return int(key)
    if cls is float:
        return int(key) if math.isfinite(key) else 0
    if key is None:
        return ""
    return cast("int | str", key)


def iter_items(value: Any) -> Iterator[tuple[int | str, Any]]:
    """``foreach ($value as $k => $v)`` over a PHP array given as a list or a dict."""
    if isinstance(value, (list, tuple)):
        return enumerate(value)
    if isinstance(value, dict):
        return ((php_key(k), v) for k, v in value.items())
    raise PhpTypeError(f"foreach over {php_type_name(value)}: not an array")


def is_array(value: Any) -> bool:
    return isinstance(value, (list, dict, tuple))


def array_values(value: Any) -> list[Any]:
    """The values of a PHP array in order, whether a list or a map (``{"0": a, "2": c}`` after a
    filter); ``[]`` for a missing or scalar container (what ``(array)`` of null gives, and what
    callers walking optional MISP collections want for anything else)."""
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return list(value.values())
    return []


def is_list_keys(keys: list[Any]) -> bool:
    """Keys exactly ``0..n-1`` in order (PHP's ``array_is_list``)."""
    return all(php_key(k) == i for i, k in enumerate(keys))


def lookup(container: Any, key: Any, missing: Any = None) -> Any:
    """``$container[$key]`` for an array container, or ``missing`` when the key is absent."""
    key = php_key(key)
    if container.__class__ is dict:
        value = container.get(key, missing)
        if value is missing and key.__class__ is int:
            value = container.get(str(key), missing)
        return value
    if isinstance(container, (list, tuple)):
        if key.__class__ is int and 0 <= key < len(container):
            return container[key]
        return missing
    if isinstance(container, dict):  # other mappings
        value = container.get(key, missing)
        if value is missing and key.__class__ is int:
            value = container.get(str(key), missing)
        return value
    return missing


# ---------------------------------------------------------------------------------------------
# Types, emptiness, numeric strings


def php_type_name(value: Any) -> str:
    """The type name PHP 8 prints in TypeError messages (``string``, ``int``, ``array``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if is_array(value):
        return "array"
    return type(value).__name__


def gettype(value: Any) -> str:
    """PHP ``gettype()``: ``array``, ``string``, ``integer``, ``double``, ``boolean`` or ``NULL``."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if INT64_MIN <= value <= INT64_MAX else "double"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if is_array(value):
        return "array"
    return "object"


def is_empty(value: Any) -> bool:
    """PHP ``empty()``: null, false, 0, 0.0, "", "0" and [] are empty; " " and "0.0" are not."""
    if value is None or value is False:
        return True
    cls = value.__class__
    if cls is str:
        return cast(bool, value == "" or value == "0")
    if cls is bool:
        return False
    if cls is int or cls is float:
        return cast(bool, value == 0)
    if isinstance(value, (list, dict, tuple)):
        return len(value) == 0
    return not value


empty = is_empty


def truthy(value: Any) -> bool:
    """PHP's boolean conversion (``(bool)$x``)."""
    return not is_empty(value)


def flag(value: Any) -> bool:
    """A boolean field of data MISP did not write itself (a hand-edited workflow file, an event
    exported by another tool): PHP's truthiness, except that the string ``"false"`` is false,
    as whoever wrote it meant. A deliberate variant of :func:`truthy`, for what the project
    reads or shows about such data; MISP never writes ``"false"`` (and would read it as true)."""
    return value != "false" and not is_empty(value)


_JSON_TYPES = {dict: "object", list: "array", tuple: "array", str: "string", bool: "boolean", int: "number",
               float: "number", type(None): "null"}
_ARTICLES = {"object": "an object", "array": "an array", "string": "a string", "number": "a number",
             "boolean": "a boolean", "null": "null"}


def json_type(value: Any) -> str:
    """The JSON type of a decoded value (``object``, ``array``, ``string``, ``number``,
    ``boolean``, ``null``), for messages about data of the wrong shape: what the sender wrote,
    in JSON's words. PHP's own names (TypeError messages) are :func:`php_type_name`."""
    kind = _JSON_TYPES.get(type(value))
    if kind is None:
        kind = "object" if isinstance(value, Mapping) else "array" if isinstance(value, (list, tuple)) else None
    return kind or type(value).__name__


def a_json_type(value: Any) -> str:
    """:func:`json_type` with its article (``an object``, ``an array``, ``a string``, ``null``)."""
    kind = json_type(value)
    return _ARTICLES.get(kind, kind)


_WS = " \t\n\r\v\f"
_NUMERIC = re.compile(r"[ \t\n\r\v\f]*([+-]?)(?:([0-9]+)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\v\f]*")


@functools.lru_cache(maxsize=4096)
def numeric_info(text: str) -> tuple[bool, int | float, int] | None:
    """PHP's ``is_numeric_string_ex``: ``(is_double, value, overflow)`` or None.

    ``overflow`` is +1/-1 when the string has integer syntax but does not fit in 64 bits (or has
    20+ significant integer digits); PHP then compares such strings as strings, not numbers.
    """
    m = _NUMERIC.fullmatch(text)
    if m is None:
        return None
    sign, int_part, frac, exp = m.groups()
    oflow = 0
    if int_part is not None and len(int_part.lstrip("0")) >= 20:
        oflow = -1 if sign == "-" else 1
    if int_part is not None and frac is None and exp is None:
        value = int(int_part)
        if sign == "-":
            value = -value
        if INT64_MIN <= value <= INT64_MAX:
            return False, value, 0
        return True, float(value), (-1 if sign == "-" else 1)
    return True, float(text.strip(_WS)), oflow


def is_numeric(value: Any) -> bool:
    """PHP 8 ``is_numeric()``: numbers, and strings like ``"1"``, ``" 1"``, ``"1 "``, ``"1e3"``, ``".5"``."""
    cls = value.__class__
    if cls is int or cls is float:
        return True
    if cls is str:
        return numeric_info(value) is not None
    return False


_LEADING_NUMBER = re.compile(r"[ \t\n\r\v\f]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def to_number(value: Any) -> int | float:
    """PHP's numeric conversion (``+$x``): leading-numeric strings count (``"12abc"`` -> 12)."""
    cls = value.__class__
    if cls is int or cls is float:
        return _norm_number(value)
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if cls is str:
        m = _LEADING_NUMBER.match(value)
        info = numeric_info(m.group(0)) if m else None
        return info[1] if info else 0
    if is_array(value):
        return 1 if value else 0
    raise PhpTypeError(f"cannot convert {php_type_name(value)} to a number")


def intval(value: Any) -> int:
    """PHP ``intval()`` / ``(int)``: truncation, 0 for NaN and out-of-range floats."""
    number = to_number(value)
    if number.__class__ is float:
        return int(number) if math.isfinite(number) and abs(number) < 2**63 else 0
    return cast(int, number)  # to_number gives an int or a float


def _norm_number(value: int | float) -> int | float:
    """An int PHP could not hold becomes the float PHP would have."""
    if value.__class__ is int and not (INT64_MIN <= value <= INT64_MAX):
        return float(value)
    return value


# ---------------------------------------------------------------------------------------------
# Strings of numbers


def _decimal_digits(value: float, precision: int | None) -> tuple[str, int]:
    """``(digits, decpt)`` of ``zend_dtoa``: mode 2 with ``precision`` digits, or shortest (None)."""
    if precision is None:
        text = repr(abs(value))
    else:
        text = f"{abs(value):.{precision - 1}e}"
    mantissa, _, exponent = text.partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    decpt = len(int_part) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    decpt -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return "0", 1
    return digits, decpt


def _gcvt(value: float, precision: int | None, exp_char: str) -> str:
    """``zend_gcvt``/``php_gcvt``: PHP's ``%G``-like formatting of a float."""
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "-INF" if value < 0 else "INF"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    ndigit = 17 if precision is None else precision
    digits, decpt = _decimal_digits(value, precision)
    if (decpt < -3) if decpt < 0 else (decpt > ndigit):
        exponent = decpt - 1
        return (f"{sign}{digits[0]}.{digits[1:] or '0'}{exp_char}"
                f"{'-' if exponent < 0 else '+'}{abs(exponent)}")
    if decpt <= 0:
        return f"{sign}0.{'0' * -decpt}{digits}"
    whole = digits[:decpt].ljust(decpt, "0")
    frac = digits[decpt:]
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def float_to_string(value: float) -> str:
    """``(string)$float`` in PHP 8 (``precision`` = 14): ``1.0`` -> ``"1"``, ``1e25`` -> ``"1.0E+25"``."""
    return _gcvt(value, 14, "E")


def to_string(value: Any) -> str:
    """PHP's string conversion of a scalar (``true`` -> ``"1"``, ``null``/``false`` -> ``""``)."""
    cls = value.__class__
    if cls is str:
        return cast(str, value)
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if cls is int:
        value = _norm_number(value)
        if value.__class__ is int:
            return str(value)
    if isinstance(value, float):
        return float_to_string(value)
    if isinstance(value, int):
        return str(value)
    raise PhpTypeError(f"cannot convert {php_type_name(value)} to string")


# ---------------------------------------------------------------------------------------------
# Comparison (PHP 8 zend_compare)


def _cmp(a: float | int, b: float | int) -> int:
    return (a > b) - (a < b)


def _str_cmp(a: str, b: str) -> int:
    # Python compares code points; UTF-8 byte order (PHP's memcmp) is the same order.
    return (a > b) - (a < b)


def _smart_strcmp(a: str, b: str) -> int:
    """``zendi_smart_strcmp``: numeric strings compare as numbers, others byte-wise."""
    na = numeric_info(a)
    nb = numeric_info(b) if na is not None else None
    if na is None or nb is None:
        return _str_cmp(a, b)
    a_double, a_val, a_oflow = na
    b_double, b_val, b_oflow = nb
    if a_oflow and a_oflow == b_oflow and a_val - b_val == 0:
        return _str_cmp(a, b)  # both overflowed to the same side: numbers would lie
    if a_double or b_double:
        if not a_double:
            if b_oflow:
                return -b_oflow
            a_val = float(a_val)
        elif not b_double:
            if a_oflow:
                return a_oflow
            b_val = float(b_val)
        elif a_val == b_val and not math.isfinite(a_val):
            return _str_cmp(a, b)
        diff = a_val - b_val
        return (diff > 0) - (diff < 0)
    return _cmp(a_val, b_val)


def _smart_streq(a: str, b: str) -> bool:
    """``zend_fast_equal_strings``: identical, or both numeric and numerically equal."""
    if a == b:
        return True
    if a[:1] > "9" or b[:1] > "9":
        return False
    return _smart_strcmp(a, b) == 0


def _number_vs_string(number: int | float, text: str) -> int:
    """``compare_longs_to_string`` / ``compare_doubles_to_string``."""
    info = numeric_info(text)
    if info is None:
        as_text = str(number) if number.__class__ is int else float_to_string(number)
        return _str_cmp(as_text, text)
    is_double, value, _ = info
    if number.__class__ is int and not is_double:
        return _cmp(number, value)
    return _cmp(float(number), float(value))


def _arrays_compare(a: Any, b: Any) -> int:
    """``zend_hash_compare`` (unordered): count first, then every key of ``a`` looked up in ``b``."""
    if len(a) != len(b):
        return 1 if len(a) > len(b) else -1
    missing = _MISSING
    for key, value in iter_items(a):
        other = lookup(b, key, missing)
        if other is missing:
            return 1
        result = compare(value, other)
        if result:
            return result
    return 0


_MISSING = object()


def compare(a: Any, b: Any) -> int:
    """PHP 8 ``$a <=> $b``; ``$a < $b`` is ``compare(a, b) < 0``, ``$a > $b`` is ``compare(b, a) < 0``."""
    ca, cb = a.__class__, b.__class__
    if ca is str and cb is str:
        return _smart_strcmp(a, b)
    a_num = ca is int or ca is float
    b_num = cb is int or cb is float
    if a_num and b_num:
        a, b = _norm_number(a), _norm_number(b)
        if a.__class__ is int and b.__class__ is int:
            return _cmp(a, b)
        return _cmp(float(a), float(b))
    if a_num and cb is str:
        return _number_vs_string(_norm_number(a), b)
    if ca is str and b_num:
        return -_number_vs_string(_norm_number(b), a)
    if a is None and cb is str:
        return 0 if b == "" else -1
    if ca is str and b is None:
        return 0 if a == "" else 1
    a_arr = isinstance(a, (list, dict, tuple))
    b_arr = isinstance(b, (list, dict, tuple))
    if a_arr and b_arr:
        return _arrays_compare(a, b)
    if a is None or a is False:
        return -1 if truthy(b) else 0
    if a is True:
        return 0 if truthy(b) else 1
    if b is None or b is False:
        return 1 if truthy(a) else 0
    if b is True:
        return 0 if truthy(a) else -1
    if a_arr:
        return 1
    if b_arr:
        return -1
    raise PhpTypeError(f"cannot compare {php_type_name(a)} with {php_type_name(b)}")


def loose_eq(a: Any, b: Any) -> bool:
    """PHP 8 ``$a == $b`` (also what ``in_array`` and ``!=`` use)."""
    ca, cb = a.__class__, b.__class__
    if ca is str and cb is str:
        return _smart_streq(a, b)
    if (ca is int and cb is int) and INT64_MIN <= a <= INT64_MAX and INT64_MIN <= b <= INT64_MAX:
        return cast(bool, a == b)
    return compare(a, b) == 0


def in_array(needle: Any, haystack: Any) -> bool:
    """PHP ``in_array($needle, $haystack)`` (loose) over a list or dict's values."""
    values = haystack.values() if isinstance(haystack, dict) else haystack
    if needle.__class__ is str:
        for value in values:
            if value.__class__ is str:
                if value == needle or _smart_streq(needle, value):
                    return True
            elif loose_eq(needle, value):
                return True
        return False
    return any(loose_eq(needle, value) for value in values)


def php_sort(values: list[Any]) -> list[Any]:
    """PHP 8 ``sort()`` (SORT_REGULAR, stable): a new list.

    Up to 16 elements PHP uses insertion sort; with comparisons that are not transitive (numeric
    and non-numeric strings mixed) the order then depends on the algorithm, so it is mirrored.
    """
    if len(values) <= 16:
        out = list(values)
        for i in range(1, len(out)):
            item = out[i]
            j = i
            while j > 0 and compare(out[j - 1], item) > 0:
                j -= 1
            if j != i:
                del out[i]
                out.insert(j, item)
        return out
    return sorted(values, key=functools.cmp_to_key(compare))


def count(value: Any) -> int:
    """PHP ``count()`` of an array (TypeError otherwise)."""
    if is_array(value):
        return len(value)
    raise PhpTypeError(f"count(): Argument #1 ($value) must be of type Countable|array, "
                       f"{php_type_name(value)} given")


def first_offset(value: Any) -> Any:
    """``$value[0]`` for any value, as PHP 8 reads it (null, with a warning, where it is unset)."""
    if is_array(value):
        return lookup(value, 0)
    if value.__class__ is str:
        if not value:
            return None
        head = value[0]
        if head < "\x80":
            return head
        # PHP returns the first byte of the UTF-8 encoding: a string no valid text can equal.
        return head.encode("utf-8")[:1].decode("utf-8", "surrogateescape")
    return None


# ---------------------------------------------------------------------------------------------
# JSON (json_decode($x, true) / json_encode with unescaped slashes and unicode)


class JsonObject(dict[Any, Any]):
    """A PHP object (``stdClass``, e.g. ``new stdClass()`` for an empty galaxy ``meta``):
    JSON-encoded as an object even when empty or list-like."""


def _php_int(text: str) -> int | float:
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else float(text)


def _php_object(pairs: list[tuple[str, Any]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in pairs:
        out[php_key(key)] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON literal {name}")


def loads(text: str | bytes) -> Any:
    """``json_decode($text, true)``: integer-like object keys become ints, big ints floats."""
    return json.loads(text, object_pairs_hook=_php_object, parse_int=_php_int,
                      parse_constant=_reject_constant)


def json_float(value: float) -> str:
    """A float as ``json_encode`` writes it (serialize_precision -1, zero fraction kept)."""
    text = _gcvt(value, None, "e")
    if math.isfinite(value) and "." not in text and "e" not in text:
        text += ".0"
    return text


def _encode(value: Any, out: Callable[[str], Any]) -> None:
    if value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif value.__class__ is str:
        text = encode_basestring(value)
        if "\u2028" in text or "\u2029" in text:
            text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        out(text)
    elif isinstance(value, int):
        value = _norm_number(value)
        out(str(value) if value.__class__ is int else json_float(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("Inf and NaN cannot be JSON encoded")
        out(json_float(value))
    elif isinstance(value, (list, tuple)):
        _encode_list(value, out)
    elif isinstance(value, dict):
        keys = list(value)
        if value.__class__ is not JsonObject and is_list_keys(keys):
            _encode_list(list(value.values()), out)
            return
        out("{")
        for i, key in enumerate(keys):
            if i:
                out(",")
            out(encode_basestring(str(php_key(key))))
            out(":")
            _encode(value[key], out)
        out("}")
    else:
        raise PhpTypeError(f"cannot JSON-encode {type(value).__name__}")


def _encode_list(values: Any, out: Callable[[str], Any]) -> None:
    out("[")
    for i, item in enumerate(values):
        if i:
            out(",")
        _encode(item, out)
    out("]")


def dumps(value: Any) -> str:
    """``json_encode($value, JSON_UNESCAPED_SLASHES|JSON_UNESCAPED_UNICODE|JSON_PRESERVE_ZERO_FRACTION)``.

    A map with keys ``0..n-1`` in order is a JSON array (``[]`` when empty), any other map an
    object; floats keep a fractional part so they stay distinguishable from integers.
    """
    parts: list[str] = []
    _encode(value, parts.append)
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# sprintf (Hash::format)

_SPRINTF = re.compile(r"%(?:(\d+)\$)?((?:[-+ 0]|'.)*)(\d+)?(?:\.(\d+))?([bcdeEfFgGosuxX%])")


def sprintf(fmt: str, args: list[Any]) -> str:
    """A ``vsprintf`` covering the conversions ``Hash::format`` is used with."""
    position = 0

    def convert(m: re.Match[str]) -> str:
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
            raise PhpTypeError(f"vsprintf(): too few arguments for format {fmt!r}")
        arg = args[index]
        if spec == "s":
            text = to_string(arg)
            if precision is not None:
                text = text[:int(precision)]
        elif spec in "duc":
            number = intval(arg)
            text = chr(number) if spec == "c" else str(number if spec == "d" else number % 2**64)
            if spec == "d" and "+" in flags and number >= 0:
                text = "+" + text
        elif spec in "xXob":
            number = intval(arg) % 2**64
            text = format(number, {"x": "x", "X": "X", "o": "o", "b": "b"}[spec])
        else:
            real = float(to_number(arg))
            p = 6 if precision is None else int(precision)
            text = format(real, f".{p}{spec if spec in 'eEgG' else 'f'}")
            if "+" in flags and real >= 0:
                text = "+" + text
        if width and len(text) < int(width):
            pad = next((f[1] for f in flags if f.startswith("'")), "0" if "0" in flags else " ")
            text = text.ljust(int(width), pad) if "-" in flags else text.rjust(int(width), pad)
        return text

    return _SPRINTF.sub(convert, fmt)
