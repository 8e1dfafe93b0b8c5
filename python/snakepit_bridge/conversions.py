"""Arguments converted by their parameter's annotation: an Arrow table arrives as a ``pyarrow.Table``
and becomes a pandas or polars DataFrame (or Series) when the parameter says so; an NDArray becomes a
``torch.Tensor`` when the parameter is annotated ``torch.Tensor``.

Annotations are read when the tools are collected, without importing anything: a class is known by its
module and name, a string annotation (``from __future__ import annotations``) is resolved through the
tool's module globals, or by its text (``pd.DataFrame``) when the name is not there (an import under
``TYPE_CHECKING``)."""

from __future__ import annotations

from .errors import InvalidArguments
from .tables import PYARROW_MISSING, ArrowUnavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_ALIASES = {"pd": "pandas", "pl": "polars", "pa": "pyarrow", "torch": "torch", "th": "torch"}
_TARGETS = {
    ("pandas", "DataFrame"),
    ("pandas", "Series"),
    ("polars", "DataFrame"),
    ("polars", "Series"),
    ("pyarrow", "Table"),
    ("pyarrow", "RecordBatch"),
    ("torch", "Tensor"),
}


def _class_key(obj: Any) -> tuple[str, str] | None:
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__name__", None)
    if isinstance(module, str) and isinstance(name, str):
        key = (module.partition(".")[0], name)
        return key if key in _TARGETS else None
    return None


def _strip_optional(text: str) -> str:
    text = text.strip().strip("'\"")
    parts = [p.strip() for p in text.split("|")]
    parts = [p for p in parts if p != "None"]
    if len(parts) == 1:
        text = parts[0]
    for prefix in ("Optional[", "typing.Optional[", "t.Optional["):
        if text.startswith(prefix) and text.endswith("]"):
            return text[len(prefix) : -1].strip()
    return text


def _resolve_text(text: str, globals_: dict[str, Any]) -> tuple[str, str] | None:
    text = _strip_optional(text)
    head, _, rest = text.partition(".")
    obj = globals_.get(head)
    if obj is not None:
        for part in rest.split(".") if rest else ():
            obj = getattr(obj, part, None)
        found = _class_key(obj)
        if found is not None:
            return found
    parts = text.split(".")
    if len(parts) >= 2:
        key = (_ALIASES.get(parts[0], parts[0]), parts[-1])
        return key if key in _TARGETS else None
    return None


def target_of(annotation: Any, fn: Any) -> tuple[str, str] | None:
    """The (package, class) a parameter's annotation asks for, if it is one converted here."""
    if isinstance(annotation, str):
        target = getattr(fn, "__func__", fn)
        return _resolve_text(annotation, getattr(target, "__globals__", {}))
    found = _class_key(annotation)
    if found is not None:
        return found
    args = [a for a in getattr(annotation, "__args__", ()) or () if a is not type(None)]
    return _class_key(args[0]) if len(args) == 1 else None


def _is_arrow_table(value: Any) -> bool:
    cls = type(value)
    return cls.__name__ == "Table" and cls.__module__.startswith("pyarrow")


def _table_converter(target: tuple[str, str]) -> Callable[[Any], Any]:
    package, name = target

    def convert(value: Any) -> Any:
        if isinstance(value, ArrowUnavailable):
            raise InvalidArguments(f"a table arrived for a {package}.{name} parameter, but {PYARROW_MISSING}")
        if not _is_arrow_table(value):
            return value
        if package == "pandas":
            frame = value.to_pandas()
            return frame.iloc[:, 0] if name == "Series" and frame.shape[1] >= 1 else frame
        if package == "polars":
            import polars as pl

            pl_frame: Any = pl.from_arrow(value)
            return pl_frame.to_series(0) if name == "Series" else pl_frame
        if name == "RecordBatch":
            return value.combine_chunks().to_batches()[0] if value.num_rows else value.schema.empty_table()
        return value

    return convert


def _tensor_converter(value: Any) -> Any:
    from .tensors import to_tensor

    return to_tensor(value)


def argument_converters(fn: Any, params: list[Any]) -> dict[str, Callable[[Any], Any]]:
    """For each parameter whose annotation asks for a table or tensor type, the function that turns
    a received argument into it."""
    out: dict[str, Callable[[Any], Any]] = {}
    for p in params:
        try:
            target = target_of(p.annotation, fn)
        except Exception:  # noqa: BLE001 - an odd annotation is simply not one converted here
            target = None
        if target is None:
            continue
        out[p.name] = _tensor_converter if target == ("torch", "Tensor") else _table_converter(target)
    return out


def convert_arguments(converters: dict[str, Callable[[Any], Any]], kwargs: dict[str, Any], tool: str) -> None:
    """Convert the arguments in place. Raises InvalidArguments naming the parameter."""
    for name, convert in converters.items():
        if name in kwargs:
            try:
                kwargs[name] = convert(kwargs[name])
            except InvalidArguments as exc:
                raise InvalidArguments(f"tool {tool!r}, argument {name!r}: {exc}") from None
            except Exception as exc:  # noqa: BLE001 - a failed conversion is an argument the tool cannot take
                raise InvalidArguments(
                    f"tool {tool!r}, argument {name!r}: cannot convert it: {type(exc).__name__}: {exc}"
                ) from None
