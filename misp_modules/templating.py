"""Sandboxed Jinja2 rendering shared by every module that renders user templates.

Templates come from workflow parameters typed by MISP users and are rendered against event
content, so they always run in Jinja2's sandbox. One environment, compiled templates cached:
notification modules render the same template for every event.

Jinja's sandbox stops attribute escapes but not resource exhaustion: ``{{ 7 ** (7 ** 9) }}``
holds the GIL for ~40 s (the whole server stops answering, health checks included) and
``{{ 'a' * 10**10 }}`` asks for 10 GB. A module timeout cannot help: a Python thread cannot be
stopped. So the environment here also bounds what one template may build (deviation from MISP,
whose renderer has no bounds; no template that means something comes near them):

- ``*`` repetition, ``%`` / ``format`` / ``str.format`` widths, ``center``/``ljust``/``rjust``/
  ``zfill`` widths: at most ``MAX_SIZE``; ``expandtabs``/``indent``/``replace``/``join``
  results: at most ``MAX_VALUE`` items; both checked before the value is built;
- the result of every ``+``, ``~``, ``%``, filter and method call, and a list, dict or set a
  method grows (``append``, ``extend``, ``update``): at most ``MAX_VALUE`` items, checked after
  (these only add up their inputs, so doubling a value in a loop stops at twice the bound;
  far above ``{{ Event|tojson }}`` of a 10,000-attribute event, a few MB);
- ``**`` and integer ``*`` results: at most ``MAX_INT_BITS`` bits, checked *before* computing
  (a big-integer multiplication runs in C holding the GIL: squaring ``3**63000`` nine times
  froze the whole server for 12 s, and no thread can be interrupted);
- ``range()``: at most ``MAX_RANGE_STEPS`` steps per render, all calls together (nested loops);
  ``lipsum()``: at most ``MAX_LIPSUM_WORDS`` words;
- the rendered text: at most ``MAX_VALUE`` characters;
- CPU time: at most ``[server] template_cpu_seconds`` (default ``DEFAULT_CPU_SECONDS``) per
  render, checked at every block (each loop iteration, ``if`` body and macro call), operator and
  call: nested loops over a list and macro fan-out build nothing big, but they compute for
  minutes. Every hook is pure Python between GIL switches, so a render in a thread never
  holds the loop for more than the interpreter's switch interval.

Going past a bound is a template error naming the bound, like any other template error.

:func:`render` runs where it is called: fine in a module's thread or worker process, never on
the event loop. ``async def`` handlers call :func:`render_async`, which renders in a small pool
of template threads.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import string
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, update_wrapper
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import SandboxedEnvironment, SandboxedFormatter, SecurityError, safe_range
from jinja2.utils import generate_lorem_ipsum

MAX_SIZE = 1_000_000          # characters or items one amplifying operation may build
MAX_VALUE = 50_000_000        # characters or items of any value a template builds, and its output
MAX_INT_BITS = 100_000        # bits of a ``**`` result (about 30,000 digits)
MAX_RANGE_STEPS = 1_000_000   # range() steps per render, all calls together
MAX_LIPSUM_WORDS = 100_000
DEFAULT_CPU_SECONDS = 5.0     # CPU seconds one render may take ([server] template_cpu_seconds)
_CHECK_EVERY = 256            # hooks between two looks at the CPU clock (one costs ~0.3 µs)
TEMPLATE_THREADS = 4          # threads rendering for async handlers (render_async)


class _Budget:
    """What one render may still spend: range() steps, and CPU time of its thread."""

    __slots__ = ("range_steps", "deadline", "seconds", "ticks")

    def __init__(self, seconds: float) -> None:
        self.range_steps = MAX_RANGE_STEPS
        self.seconds = seconds
        self.deadline = time.thread_time() + seconds
        self.ticks = 0


_budget: contextvars.ContextVar[_Budget] = contextvars.ContextVar("template_budget")


def _tick() -> None:
    """A unit of template work: every ``_CHECK_EVERY`` of them, look at the CPU clock."""
    budget = _budget.get(None)
    if budget is None:
        return
    budget.ticks += 1
    if not budget.ticks % _CHECK_EVERY and time.thread_time() > budget.deadline:
        raise SecurityError(f"the template used more than {budget.seconds:g} s of CPU time "
                            "(limit [server] template_cpu_seconds)")

# printf conversions: %[(key)][flags][width][.precision][length]type
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")
_NUMBER = re.compile(r"\d+")


class TemplateRenderError(ValueError):
    """A template failed to compile or render; the message says where (line) and why."""


def _too_big(what: str, size: int, limit: int = MAX_SIZE) -> SecurityError:
    return SecurityError(f"{what} would build {size:,} items (limit {limit:,})")


def _check_repeat(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        if isinstance(times, int) and hasattr(seq, "__len__") and not isinstance(seq, int):
            if len(seq) * times > MAX_SIZE:
                raise _too_big("`*` repetition", len(seq) * times)


def _check_multiply(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool) and not isinstance(right, bool):
        bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS:
            raise SecurityError(f"`*` result would have about {bits:,} bits (limit {MAX_INT_BITS:,})")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        bits = (abs(base).bit_length() - 1) * exponent
        if bits > MAX_INT_BITS:
            raise SecurityError(f"`**` result would have about {bits:,} bits (limit {MAX_INT_BITS:,})")


def _check_printf(fmt: str) -> None:
    for width, precision in _PRINTF.findall(fmt):
        for number in (width, precision):
            if number == "*":
                raise SecurityError("`*` widths in % formats are not supported in templates")
            if number and int(number) > MAX_SIZE:
                raise _too_big("a % format width", int(number))


def _check_format_spec(fmt: str, args: tuple, kwargs: Mapping[str, Any], env: SandboxedEnvironment) -> None:
    """str.format widths, including nested ones (``{:{w}}``), resolved in the sandbox."""
    for _literal, field, spec, _conversion in string.Formatter().parse(fmt):
        if field is None or not spec:
            continue
        if "{" in spec:
            spec = SandboxedFormatter(env).vformat(spec, args, kwargs)
        for number in _NUMBER.findall(spec):
            if int(number) > MAX_SIZE:
                raise _too_big("a str.format width", int(number))


def _check_str_method(env: SandboxedEnvironment, s: str, name: str, args: tuple, kwargs: dict) -> None:
    if name in ("center", "ljust", "rjust", "zfill"):
        width = args[0] if args else kwargs.get("width")
        if isinstance(width, int) and width > MAX_SIZE:
            raise _too_big(f"str.{name}()", width)
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int) and size * (s.count("\t") + 1) > MAX_VALUE:
            raise _too_big("str.expandtabs()", size * (s.count("\t") + 1), MAX_VALUE)
    elif name == "replace" and len(args) >= 2:
        _check_replace(s, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))
    elif name == "join" and args:
        _check_join(s, args[0])
    elif name == "format":
        _check_format_spec(s, args, kwargs, env)
    elif name == "format_map" and args and isinstance(args[0], Mapping):
        _check_format_spec(s, (), args[0], env)


def _check_replace(s: Any, old: Any, new: Any, count: Any = -1) -> None:
    s, old, new = str(s), str(old), str(new)
    hits = s.count(old) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    size = len(s) + hits * (len(new) - len(old))
    if size > MAX_VALUE:
        raise _too_big("replace()", size, MAX_VALUE)


def _check_join(separator: Any, items: Any) -> None:
    if hasattr(items, "__len__") and len(items) > 1 and len(str(separator)) * (len(items) - 1) > MAX_VALUE:
        raise _too_big("join()", len(str(separator)) * (len(items) - 1), MAX_VALUE)


def _bounded_range(*args: int) -> range:
    steps = safe_range(*args)
    budget = _budget.get(None)
    if budget is not None:
        _tick()
        budget.range_steps -= len(steps)
        if budget.range_steps < 0:
            raise SecurityError(f"range() calls of one template went past {MAX_RANGE_STEPS:,} steps")
    return steps


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 - Jinja's names
    if n * max > MAX_LIPSUM_WORDS:
        raise _too_big("lipsum()", n * max, MAX_LIPSUM_WORDS)
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def _checked_filter(original: Callable, check: Callable[..., None], *, eval_ctx: bool = False) -> Callable:
    """``original`` with ``check`` run first on its arguments (the eval context left out)."""
    def filter_(*args: Any, **kwargs: Any) -> Any:
        check(*(args[1:] if eval_ctx else args), **kwargs)
        return original(*args, **kwargs)
    return update_wrapper(filter_, original)  # keeps Jinja's pass_eval_context marker


def _check_size(value: Any, what: str) -> Any:
    """``value``, unless it is a str, list, tuple, dict or set longer than ``MAX_VALUE``."""
    if isinstance(value, (str, list, tuple, dict, set)) and len(value) > MAX_VALUE:
        raise _too_big(what, len(value), MAX_VALUE)
    return value


def _size_checked_filter(name: str, original: Callable) -> Callable:
    def filter_(*args: Any, **kwargs: Any) -> Any:
        return _check_size(original(*args, **kwargs), f"filter `{name}`")
    return update_wrapper(filter_, original)


class _BoundedCodeGenerator(CodeGenerator):
    """``a ~ b`` compiles to a join Jinja's sandbox cannot intercept; check its result. Every
    block (loop iteration, ``if`` body, macro call) starts with a tick of the CPU budget."""

    def blockvisit(self, nodes: Any, frame: Any) -> None:
        self.writeline("environment.tick()")
        super().blockvisit(nodes, frame)

    def visit_Concat(self, node: Any, frame: Any) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


def _check_format_filter(value: Any, *args: Any, **kwargs: Any) -> None:
    _check_printf(str(value))


def _check_center_filter(value: Any, width: Any = 80) -> None:
    if isinstance(width, int) and width > MAX_SIZE:
        raise _too_big("center", width)


def _check_indent_filter(s: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
    lines = str(s).count("\n") + 1
    per_line = width if isinstance(width, int) else len(str(width))
    if per_line * lines > MAX_VALUE:
        raise _too_big("indent", per_line * lines, MAX_VALUE)


def _check_join_filter(value: Any, d: Any = "", *args: Any, **kwargs: Any) -> None:
    _check_join(d, value)


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, plus bounds on the operations that turn a short template into a huge
    value or a long computation (module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _bounded_lipsum
        self.filters["format"] = _checked_filter(self.filters["format"], _check_format_filter)
        self.filters["center"] = _checked_filter(self.filters["center"], _check_center_filter)
        self.filters["indent"] = _checked_filter(self.filters["indent"], _check_indent_filter)
        self.filters["replace"] = _checked_filter(self.filters["replace"], _check_replace, eval_ctx=True)
        self.filters["join"] = _checked_filter(self.filters["join"], _check_join_filter, eval_ctx=True)
        self.filters = {name: _size_checked_filter(name, f) for name, f in self.filters.items()}

    tick = staticmethod(_tick)

    @staticmethod
    def checked_concat(value: str) -> str:
        _tick()
        return _check_size(value, "`~` concatenation")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            _check_repeat(left, right)
            _check_multiply(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_printf(left)
        return _check_size(super().call_binop(context, operator, left, right), f"`{operator}`")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
        _tick()
        method = getattr(__obj, "__wrapped__", __obj)  # str.format arrives wrapped by the sandbox
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            _check_str_method(__self, owner, getattr(method, "__name__", ""), args, kwargs)
        name = getattr(method, "__name__", "call")
        result = _check_size(super().call(__context, __obj, *args, **kwargs), f"{name}()")
        _check_size(owner, f"{name}()")  # list.extend / dict.update grow their owner
        return result


_env = _BoundedSandbox(autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=512)
def _compile(template: str):
    return _env.from_string(template)


def render(template: str, context: Mapping[str, Any] | None = None) -> str:
    """Render ``template`` with the top-level keys of ``context`` as variables.

    Raises :class:`TemplateRenderError` naming the line for syntax errors and the reason for
    runtime errors (sandbox violations, bounds, undefined attribute calls, ...).
    """
    try:
        compiled = _compile(template)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    token = _budget.set(_Budget(_cpu_seconds()))
    try:
        return _bounded_output(compiled.generate(dict(context or {})))
    except TemplateError as exc:
        raise TemplateRenderError(f"template error: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any error inside user code is a template error
        line = _runtime_line(exc)
        where = f" on line {line}" if line else ""
        raise TemplateRenderError(f"template error{where}: {type(exc).__name__}: {exc}") from None
    finally:
        _budget.reset(token)


def _cpu_seconds() -> float:
    from misp_modules.settings import get_settings

    try:
        return get_settings().template_cpu_seconds
    except Exception:  # noqa: BLE001 - an unreadable config never stops a render: the default bound
        return DEFAULT_CPU_SECONDS


_pool: ThreadPoolExecutor | None = None


async def render_async(template: str, context: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None) -> str:
    """:func:`render` for ``async def`` handlers: in a template thread, never on the event loop
    (``context`` may be a function building it, so that work is off the loop too)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(TEMPLATE_THREADS, thread_name_prefix="template")

    def job() -> str:
        return render(template, context() if callable(context) else context)

    return await asyncio.get_running_loop().run_in_executor(_pool, job)


def _bounded_output(chunks) -> str:
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        _tick()
        size += len(chunk)
        if size > MAX_VALUE:
            raise SecurityError(f"the rendered text would be longer than {MAX_VALUE:,} characters")
        parts.append(chunk)
    return "".join(parts)


def render_or_empty(template: str, context: Mapping[str, Any] | None = None) -> str:
    """MISP's rule for jinja-supported params: a template that fails renders as ``""``."""
    try:
        return render(template, context)
    except TemplateRenderError:
        return ""


def _runtime_line(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
