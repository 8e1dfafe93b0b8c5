"""Codecs behind one interface: MessagePack when the ``msgpack`` package is importable, stdlib JSON
otherwise. Both carry the same values (docs/data.md has the table); anything without a mapping raises
``EncodeError`` naming its type, and a payload that is not a valid message raises ``DecodeError``.

On the MessagePack path, binary values of ``ATTACHMENT_MIN`` bytes or more (``bytes``, ``bytearray``,
``memoryview``, NumPy arrays) travel as attachments after the message: ``encode`` then returns a
``FrameParts`` that the frame writer sends without copying them."""

from __future__ import annotations

import threading

from .attachments import LIFT_BUDGET, assemble, lift, split
from .buffers import new_bytes
from .datatypes import ATTACHMENT_MARKER, ATTACHMENT_MIN, DecodeError
from .errors import EncodeError
from .frame_reader import AttachedFrame
from .msgpack_ext import MsgpackExt, NeedWhole
from .tables import PendingTable, resolve_tables

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, Protocol

    from .frame_writer import FrameParts

__all__ = ["Codec", "DecodeError", "MsgpackCodec", "available_codecs", "choose_codec", "make_codec"]

if TYPE_CHECKING:

    class Codec(Protocol):
        name: str

        def encode(self, value: Any) -> bytes | FrameParts: ...

        def encode_reply(self, code: int, call_id: int, value: Any) -> bytes | FrameParts: ...

        def decode(self, data: bytes | bytearray | memoryview | AttachedFrame) -> Any: ...

        def message_encoder(self, head: list[Any]) -> Callable[[Any], bytes | FrameParts]:
            """``encode`` of ``[*head, value]`` for many values (a stream's chunks), possibly faster."""
            ...

else:
    Codec = object  # the interface, for type checkers; at run time typing stays unimported


#: Types a message may hold and still take the fast path (no walk for large binary values).
_SCALARS = frozenset({int, float, str, bool, type(None)})


def _all_scalars(items: Iterable[Any]) -> bool:
    for item in items:
        if type(item) not in _SCALARS:
            return False
    return True


class MsgpackCodec(MsgpackExt):
    name = "msgpack"

    def __init__(self) -> None:
        import msgpack

        self._msgpack = msgpack
        self._packb: Callable[..., bytes] = msgpack.packb
        self._unpackb: Callable[..., Any] = msgpack.unpackb
        self._plain_hook = self._ext_hook_for(None, [])
        # One reusable Packer per thread for messages of scalars (control messages, scalar results):
        # building a Packer per message costs several times the packing itself.
        self._local = threading.local()

    # ---------------------------------------------------------------- encode

    def _pack(self, value: Any, default: Callable[[Any], Any]) -> bytes:
        return self._packb(value, use_bin_type=True, default=default)

    def encode_reply(self, code: int, call_id: int, value: Any) -> bytes | FrameParts:
        """``encode([code, call_id, value])``, with a shorter path for a scalar value (most results)."""
        if type(value) in _SCALARS:
            packer = getattr(self._local, "packer", None)
            if packer is not None:
                try:
                    return packer.pack([code, call_id, value])  # type: ignore[no-any-return]
                except Exception:  # noqa: BLE001 - the general path below words the error
                    packer.reset()
        return self.encode([code, call_id, value])

    def encode(self, value: Any) -> bytes | FrameParts:
        if type(value) is list and _all_scalars(value):
            packer = getattr(self._local, "packer", None)
            if packer is None:
                packer = self._local.packer = self._msgpack.Packer(use_bin_type=True, default=self._default_for([]))
            try:
                return packer.pack(value)  # type: ignore[no-any-return]
            except Exception:  # noqa: BLE001 - the general path below words the error
                packer.reset()
        blobs: list[memoryview] = []
        try:
            lifted = lift(value, blobs, [LIFT_BUDGET])
            body = self._pack(lifted, self._default_for(blobs))
            return assemble(body, blobs) if blobs else body
        except EncodeError:
            raise
        except UnicodeEncodeError:
            raise EncodeError("cannot encode a str with unpaired surrogates") from None
        except (ValueError, TypeError, BufferError) as exc:
            if "recursion" in str(exc):
                raise EncodeError("cannot encode a value nested too deeply (is it cyclic?)") from None
            raise EncodeError(f"cannot encode value: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - whatever fails (memory, a broken object) is an encode error
            raise EncodeError(f"cannot encode value: {type(exc).__name__}: {exc}") from None

    def message_encoder(self, head: list[Any]) -> Callable[[Any], bytes | FrameParts]:
        """``encode`` of ``[*head, value]`` for many values: the head is packed once, and a value made
        of scalars (or small bytes) is packed alone by a Packer of its own; anything else, and any
        failure, takes ``encode``. Use it from one thread at a time."""
        # MessagePack puts the array's length first and nil is one byte: packing the message with a
        # nil value and dropping that last byte leaves the prefix every value is appended to.
        prefix = self._packb([*head, None], use_bin_type=True)[:-1]
        packer = self._msgpack.Packer(use_bin_type=True, default=self._default_for([]))
        pack = packer.pack
        scalars = _SCALARS
        encode = self.encode

        def encode_message(value: Any) -> bytes | FrameParts:
            t = type(value)
            if (
                t in scalars
                or (t is bytes and len(value) < ATTACHMENT_MIN)
                or (t is list and _all_scalars(value))
                or (t is dict and _all_scalars(value.values()))
            ):
                try:
                    return prefix + pack(value)  # type: ignore[no-any-return]
                except Exception:  # noqa: BLE001 - the general path below words the error
                    packer.reset()
            return encode([*head, value])

        return encode_message

    # ---------------------------------------------------------------- decode

    def _unpack(self, data: bytes | bytearray | memoryview, hook: Callable[[int, bytes], Any]) -> Any:
        return self._unpackb(data, raw=False, strict_map_key=False, timestamp=3, ext_hook=hook)

    def decode(self, data: bytes | bytearray | memoryview | AttachedFrame) -> Any:
        if type(data) is bytes and data and data[0] != ATTACHMENT_MARKER:
            try:  # most frames: a small message read in one piece
                return self._unpackb(data, raw=False, strict_map_key=False, timestamp=3, ext_hook=self._plain_hook)
            except DecodeError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of the unpacker means a malformed payload
                raise _malformed(len(data), exc) from None
        if isinstance(data, AttachedFrame):
            return self._decode_streaming(data)
        try:
            if len(data) > 0 and data[0] == ATTACHMENT_MARKER:
                frame = memoryview(data).cast("B")
                body, table = split(frame)
                return self._unpack(body, self._ext_hook_for(frame, table))
            return self._unpack(data, self._plain_hook)
        except DecodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the unpacker means a malformed payload
            raise _malformed(len(data), exc) from None

    def _decode_streaming(self, frame: AttachedFrame) -> Any:
        """Decode the message, then read each attachment into the object it became: received bytes
        and arrays are the only copies of their data."""
        if new_bytes() is None:
            return self.decode(bytes(frame))
        targets: dict[int, memoryview] = {}
        pending: list[PendingTable] = []
        try:
            value = self._unpack(frame.body, self._streaming_hook(frame, targets, pending))
        except NeedWhole:
            return self.decode(bytes(frame))
        except DecodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the unpacker means a malformed payload
            raise _malformed(frame.size, exc) from None
        frame.fill(targets)
        targets.clear()
        if pending:
            pending.clear()
            try:
                value = resolve_tables(value)
            except Exception as exc:  # noqa: BLE001 - malformed IPC bytes are a malformed payload
                raise _malformed(frame.size, exc) from None
        return value


def _malformed(size: int, exc: Exception) -> DecodeError:
    return DecodeError(f"invalid MessagePack payload of {size} bytes: {type(exc).__name__}: {exc}")


def available_codecs() -> list[str]:
    names = []
    try:
        import msgpack  # noqa: F401 - what MsgpackCodec needs; imported once, a codec is not built here
    except ImportError:
        pass
    else:
        names.append("msgpack")
    names.append("json")
    return names


def make_codec(name: str) -> Codec:
    if name == "msgpack":
        return MsgpackCodec()
    if name == "json":
        from .json_codec import JsonCodec  # only when chosen: keeps the worker's startup light

        return JsonCodec()
    raise ValueError(f"unknown codec {name!r}")


def choose_codec(preferred: list[str]) -> Codec:
    """The first codec in the host's order of preference that this interpreter supports."""
    have = available_codecs()
    for name in preferred:
        if name in have:
            return make_codec(name)
    raise ValueError(f"no common codec: host accepts {preferred}, worker supports {have}")
