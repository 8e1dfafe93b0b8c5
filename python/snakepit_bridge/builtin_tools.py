"""Tools every worker has besides the adapter's, named with a ``$`` so they never clash with one:
allowlisted calls (``$python.call``, ``$python.create``) and operations on references (``$ref.*``).

They run like sync tools (in the worker's threads). Reference arguments arrive as objects: the session
layer has already resolved them, refusing references of other sessions."""

from __future__ import annotations

from types import ModuleType

from .adapter import ToolSpec, _ToolMark
from .allow import Allowlist
from .capability import attribute, bound_method, check_value
from .codecs import Codec
from .context import Context
from .errors import BridgeError, EncodeError, PermissionDenied
from .refs import type_name
from .signature import is_awaitable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from typing import Any


_PLAIN = (type(None), bool, int, float, str, bytes)
_MODES = ("auto", "value", "ref")


def make_builtin_tools(
    allow: Allowlist, codec: Codec, loop: Callable[[], asyncio.AbstractEventLoop | None]
) -> dict[str, ToolSpec]:
    def settle(value: Any) -> Any:
        if is_awaitable(value):
            import asyncio  # only for an awaitable: keeps the worker's startup light

            running = loop()
            if running is not None and running.is_running():
                return asyncio.run_coroutine_threadsafe(_await(value), running).result()
            return asyncio.run(_await(value))
        return value

    def result(value: Any, mode: str, ctx: Context) -> Any:
        if mode not in _MODES:
            raise ValueError(f"result mode must be one of {_MODES}, got {mode!r}")
        if isinstance(value, ModuleType):
            raise PermissionDenied(value.__name__, "modules are not handed out, as values or as references")
        if not isinstance(value, _PLAIN):
            check_value(value, f"the result ({type_name(value)})")
        if mode == "ref":
            return ctx.ref(value)
        if mode == "value" or isinstance(value, _PLAIN):
            return value
        try:
            codec.encode(value)
        except EncodeError as exc:
            if ctx.session_id is None:
                raise ResultNotEncodable(f"{exc}; call it in a session to get a reference instead") from None
            return ctx.ref(value)
        return value

    def python_call(name: str, args: list[Any], kwargs: dict[str, Any], mode: str, ctx: Context) -> Any:
        fn = allow.resolve(name)
        if not callable(fn):
            raise TypeError(f"{name!r} is not callable")
        return result(settle(fn(*args, **kwargs)), mode, ctx)

    def python_create(name: str, args: list[Any], kwargs: dict[str, Any], ctx: Context) -> Any:
        ctx.session  # noqa: B018 - raises outside a session, before anything is imported
        cls = allow.resolve(name)
        if not isinstance(cls, type):
            raise TypeError(f"{name!r} is not a class; use python.call for functions")
        return ctx.ref(cls(*args, **kwargs))

    def ref_call(ref: Any, method: str, args: list[Any], kwargs: dict[str, Any], mode: str, ctx: Context) -> Any:
        fn = bound_method(ref, method, ctx.session.refs.expose_of(ref))
        return result(settle(fn(*args, **kwargs)), mode, ctx)

    def ref_get(ref: Any, attr: str, mode: str, ctx: Context) -> Any:
        return result(attribute(ref, attr, ctx.session.refs.expose_of(ref)), mode, ctx)

    def ref_release(ids: list[int], ctx: Context) -> int:
        dropped: int = ctx.session.refs.release([i for i in ids if isinstance(i, int)])
        return dropped

    tools: dict[str, Callable[..., Any]] = {
        "$python.call": python_call,
        "$python.create": python_create,
        "$ref.call": ref_call,
        "$ref.get": ref_get,
        "$ref.release": ref_release,
    }
    return {name: ToolSpec.from_function(fn, _ToolMark(name, None)) for name, fn in tools.items()}


class ResultNotEncodable(BridgeError):
    """A result with no wire encoding, outside a session (where it would have become a reference)."""

    wire_kind = "encode_error"


async def _await(awaitable: Any) -> Any:
    return await awaitable
