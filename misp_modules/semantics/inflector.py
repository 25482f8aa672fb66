"""CakePHP 2.x ``Inflector``: how MISP names misp-module action nodes and their params (docs/misp-behaviour.md §11.1).

MISP derives a misp-module's node id with ``underscore(name)``, each param's id with
``slug(underscore(param))`` and its label (the ``matchingData`` key) with ``humanize(param)``;
the runner must derive the very same strings to find what MISP would send.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_CAMEL = re.compile(r"(?<=\w)([A-Z])", re.ASCII)

# Inflector::$_transliteration, applied in this order before slugging.
_TRANSLITERATION = [
    ("ä|æ|ǽ", "ae"), ("ö|œ", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ü", "Ue"), ("Ö", "Oe"),
    ("À|Á|Â|Ã|Å|Ǻ|Ā|Ă|Ą|Ǎ", "A"), ("à|á|â|ã|å|ǻ|ā|ă|ą|ǎ|ª", "a"),
    ("Ç|Ć|Ĉ|Ċ|Č", "C"), ("ç|ć|ĉ|ċ|č", "c"), ("Ð|Ď|Đ", "D"), ("ð|ď|đ", "d"),
    ("È|É|Ê|Ë|Ē|Ĕ|Ė|Ę|Ě", "E"), ("è|é|ê|ë|ē|ĕ|ė|ę|ě", "e"),
    ("Ĝ|Ğ|Ġ|Ģ|Ґ", "G"), ("ĝ|ğ|ġ|ģ|ґ", "g"), ("Ĥ|Ħ", "H"), ("ĥ|ħ", "h"),
    ("Ì|Í|Î|Ï|Ĩ|Ī|Ĭ|Ǐ|Į|İ|І", "I"), ("ì|í|î|ï|ĩ|ī|ĭ|ǐ|į|ı|і", "i"),
    ("Ĵ", "J"), ("ĵ", "j"), ("Ķ", "K"), ("ķ", "k"), ("Ĺ|Ļ|Ľ|Ŀ|Ł", "L"), ("ĺ|ļ|ľ|ŀ|ł", "l"),
    ("Ñ|Ń|Ņ|Ň", "N"), ("ñ|ń|ņ|ň|ŉ", "n"),
    ("Ò|Ó|Ô|Õ|Ō|Ŏ|Ǒ|Ő|Ơ|Ø|Ǿ", "O"), ("ò|ó|ô|õ|ō|ŏ|ǒ|ő|ơ|ø|ǿ|º", "o"),
    ("Ŕ|Ŗ|Ř", "R"), ("ŕ|ŗ|ř", "r"), ("Ś|Ŝ|Ş|Ș|Š", "S"), ("ś|ŝ|ş|ș|š|ſ", "s"),
    ("Ţ|Ț|Ť|Ŧ", "T"), ("ţ|ț|ť|ŧ", "t"),
    ("Ù|Ú|Û|Ũ|Ū|Ŭ|Ů|Ű|Ų|Ư|Ǔ|Ǖ|Ǘ|Ǚ|Ǜ", "U"), ("ù|ú|û|ũ|ū|ŭ|ů|ű|ų|ư|ǔ|ǖ|ǘ|ǚ|ǜ", "u"),
    ("Ý|Ÿ|Ŷ", "Y"), ("ý|ÿ|ŷ", "y"), ("Ŵ", "W"), ("ŵ", "w"), ("Ź|Ż|Ž", "Z"), ("ź|ż|ž", "z"),
    ("Æ|Ǽ", "AE"), ("ß", "ss"), ("Ĳ", "IJ"), ("ĳ", "ij"), ("Œ", "OE"), ("ƒ", "f"),
    ("Þ", "TH"), ("þ", "th"), ("Є", "Ye"), ("є", "ye"),
]
_TRANSLITERATION_RE = [(re.compile(pattern), replacement) for pattern, replacement in _TRANSLITERATION]

_WORD_CATEGORIES = {"Ll", "Lm", "Lo", "Lt", "Lu", "Nd"}
# [\s\p{Zs}] under PCRE's /u (UCP): \h, \v and the space separators.
_SPACES = "\t\n\x0b\f\r \x85\xa0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_SPACE_RUN = re.compile(f"[{_SPACES}]+")


@functools.lru_cache(maxsize=1024)
def underscore(name: str) -> str:
    """``Inflector::underscore``: ``testAction`` -> ``test_action`` (ASCII lowercasing, as PHP 8)."""
    return _CAMEL.sub(r"_\1", name).translate(_ASCII_LOWER)


@functools.lru_cache(maxsize=1024)
def slug(name: str, replacement: str = "_") -> str:
    """``Inflector::slug``: transliterate, every non letter/digit becomes a space, runs of spaces
    become ``replacement``, which is then trimmed from both ends."""
    for pattern, ascii_text in _TRANSLITERATION_RE:
        name = pattern.sub(ascii_text, name)
    name = "".join(ch if (ch in _SPACES or unicodedata.category(ch) in _WORD_CATEGORIES) else " "
                   for ch in name)
    name = _SPACE_RUN.sub(lambda _: replacement, name)
    return name.strip(replacement) if replacement else name


@functools.lru_cache(maxsize=1024)
def humanize(name: str) -> str:
    """``Inflector::humanize``: ``_`` becomes a space and each word gets an uppercase first letter."""
    text = name.replace("_", " ")
    return re.sub(r"(^|[ \t\r\n\f\v])([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def param_id(name: str) -> str:
    """The id MISP gives a misp-module param: ``slug(underscore(name))``."""
    return slug(underscore(name))
