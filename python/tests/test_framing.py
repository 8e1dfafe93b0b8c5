"""Frames on a real pipe: parts written without copies, large frames, limits and truncation, held
frames and when they go out."""

from __future__ import annotations

import gc
import os
import select
import struct
import threading
import tracemalloc
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from snakepit_bridge import frame_reader, frame_writer
from snakepit_bridge.codecs import DecodeError, MsgpackCodec
from snakepit_bridge.errors import FrameTooLarge
from snakepit_bridge.frame_reader import AttachedFrame, FrameReader, TruncatedFrame
from snakepit_bridge.frame_writer import FrameParts, FrameWriter


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def write_in_thread(fn: object) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_parts_and_plain_payloads_arrive_as_whole_frames(pipe: tuple[int, int]) -> None:
    r, w = pipe
    writer = FrameWriter(w, 64 << 20)
    big = bytes(range(256)) * 40_000
    payloads: list[bytes | FrameParts] = [
        b"small",
        b"",
        big,
        FrameParts([b"head", memoryview(big), b"", bytearray(b"tail")], 8 + len(big)),
        memoryview(big)[: 3 << 20],
    ]
    expected = [b"small", b"", big, b"head" + big + b"tail", big[: 3 << 20]]

    def produce() -> None:
        for p in payloads:
            writer.write(p)
        os.close(w)

    thread = write_in_thread(produce)
    got = [bytes(f) for f in FrameReader(r, 64 << 20).frames()]
    thread.join()
    assert got == expected


def test_large_frames_are_read_into_one_writable_buffer(pipe: tuple[int, int]) -> None:
    r, w = pipe
    size = 3 << 20

    def produce() -> None:
        FrameWriter(w, 64 << 20).write(b"\x05" * size)
        os.close(w)

    thread = write_in_thread(produce)
    (frame,) = list(FrameReader(r, 64 << 20).frames())
    thread.join()
    assert isinstance(frame, memoryview) and isinstance(frame.obj, bytearray)
    assert not frame.readonly and frame.nbytes == size and frame[size - 1] == 5


def test_a_length_over_the_limit_is_refused_before_allocating(
    pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    r, w = pipe

    def no_allocation(n: int) -> memoryview:
        raise AssertionError(f"allocated {n} bytes")

    monkeypatch.setattr(frame_reader, "allocate", no_allocation)
    os.write(w, struct.pack(">I", 0xFFFFFFFF) + b"x" * 100)
    with pytest.raises(FrameTooLarge) as info:
        next(FrameReader(r, 1 << 20).frames())
    assert info.value.size == 0xFFFFFFFF and info.value.limit == 1 << 20


def test_the_writer_refuses_payloads_over_the_limit(pipe: tuple[int, int]) -> None:
    _, w = pipe
    writer = FrameWriter(w, 1000)
    with pytest.raises(FrameTooLarge):
        writer.write(b"x" * 1001)
    with pytest.raises(FrameTooLarge):
        writer.write(FrameParts([b"x"], 5 << 30))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x00\x00", None),
        (b"\x00\x00\x00\x09abc", 9),
        (struct.pack(">I", 300_000) + b"y" * 1000, 300_000),
    ],
)
def test_a_pipe_closed_inside_a_frame_is_a_truncated_frame(
    pipe: tuple[int, int], data: bytes, expected: int | None
) -> None:
    r, w = pipe
    os.write(w, struct.pack(">I", 1) + b"k" + data)
    os.close(w)
    frames = FrameReader(r, 1 << 20).frames()
    assert next(frames) == b"k"
    with pytest.raises(TruncatedFrame) as info:
        next(frames)
    assert info.value.expected == expected
    assert isinstance(info.value, EOFError)


def _attachment_frame() -> tuple[FrameParts, list[Any]]:
    value: list[Any] = [21, 7, {"blob": bytes(range(256)) * 400, "arr": np.arange(30_000, dtype="<f8"), "n": 1}]
    encoded = MsgpackCodec().encode(value)
    assert isinstance(encoded, FrameParts)
    return encoded, value


def test_attachments_are_read_from_the_pipe_into_the_objects_they_become(
    pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    r, w = pipe
    encoded, value = _attachment_frame()

    def no_frame_buffer(n: int) -> memoryview:
        raise AssertionError(f"a buffer of {n} bytes was allocated for the whole frame")

    monkeypatch.setattr(frame_reader, "allocate", no_frame_buffer)

    def produce() -> None:
        writer = FrameWriter(w, 64 << 20)
        writer.write(encoded)
        writer.write(b"next")
        os.close(w)

    thread = write_in_thread(produce)
    frames = FrameReader(r, 64 << 20).frames()
    frame = next(frames)
    assert isinstance(frame, AttachedFrame) and len(frame) == encoded.size
    got = MsgpackCodec().decode(frame)
    assert got[2]["blob"] == value[2]["blob"] and type(got[2]["blob"]) is bytes
    assert np.array_equal(got[2]["arr"], value[2]["arr"]) and got[2]["arr"].flags.writeable
    assert got[2]["n"] == 1
    assert next(frames) == b"next", "the stream continues right after the attachments"
    thread.join()


def test_attachments_nobody_reads_are_skipped(pipe: tuple[int, int]) -> None:
    r, w = pipe
    encoded, _ = _attachment_frame()

    def produce() -> None:
        writer = FrameWriter(w, 64 << 20)
        writer.write(encoded)
        writer.write(b"next")
        os.close(w)

    thread = write_in_thread(produce)
    frames = FrameReader(r, 64 << 20).frames()
    assert isinstance(next(frames), AttachedFrame)
    assert next(frames) == b"next"
    thread.join()


def test_a_malformed_attachment_table_is_a_decode_error_and_framing_holds(pipe: tuple[int, int]) -> None:
    r, w = pipe
    payload = bytearray(_attachment_frame()[0].tobytes())
    body_end = 5 + int.from_bytes(payload[1:5], "big")
    payload[body_end + 4 : body_end + 8] = (len(payload) - 10).to_bytes(4, "big")  # offset runs past the end

    def produce() -> None:
        writer = FrameWriter(w, 64 << 20)
        writer.write(bytes(payload))
        writer.write(b"next")
        os.close(w)

    thread = write_in_thread(produce)
    frames = FrameReader(r, 64 << 20).frames()
    frame = next(frames)
    assert not isinstance(frame, AttachedFrame)
    with pytest.raises(DecodeError, match="runs past the payload"):
        MsgpackCodec().decode(frame)
    assert next(frames) == b"next"
    thread.join()


def test_a_pipe_closed_inside_an_attachment_is_a_truncated_frame(pipe: tuple[int, int]) -> None:
    r, w = pipe
    data = struct.pack(">I", _attachment_frame()[0].size) + _attachment_frame()[0].tobytes()
    half = data[: len(data) // 2]

    def produce() -> None:
        os.write(w, half)
        os.close(w)

    thread = write_in_thread(produce)
    frame = next(FrameReader(r, 64 << 20).frames())
    with pytest.raises(TruncatedFrame):
        MsgpackCodec().decode(frame)
    thread.join()


def test_received_data_is_released_with_its_value_without_waiting_for_the_garbage_collector(
    pipe: tuple[int, int],
) -> None:
    r, w = pipe
    encoded, _ = _attachment_frame()

    def produce() -> None:
        writer = FrameWriter(w, 64 << 20)
        writer.write(encoded)
        writer.write(encoded)
        os.close(w)

    thread = write_in_thread(produce)
    frames = FrameReader(r, 64 << 20).frames()
    codec = MsgpackCodec()
    codec.decode(next(frames))  # warm up caches before measuring
    gc.disable()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        value = codec.decode(next(frames))
        held = tracemalloc.get_traced_memory()[0] - baseline
        del value
        left = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
        gc.enable()
    thread.join()
    assert held > 300_000, "the attachments were received"
    # What may remain is the last chunk read from the pipe (64 KiB), never the attachments.
    assert left < 100_000, f"{left} bytes still held after the value was dropped"


def test_buffered_counts_bytes_read_but_not_yet_yielded(pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.write(w, struct.pack(">I", 1) + b"a" + struct.pack(">I", 2) + b"bc" + struct.pack(">I", 9))
    reader = FrameReader(r, 1 << 20)
    frames = reader.frames()
    assert next(frames) == b"a"
    assert reader.buffered == 10 and reader.wait_readable(0)
    assert next(frames) == b"bc"
    assert reader.buffered == 4


def test_a_frame_alone_in_its_read_keeps_the_state_and_the_limit(pipe: tuple[int, int]) -> None:
    # A read that holds exactly one frame takes a short path (most reads, calls one at a time): what
    # the reader says is buffered, and the size limit, hold as on the general path.
    r, w = pipe
    reader = FrameReader(r, 8)
    frames = reader.frames()
    os.write(w, struct.pack(">I", 3) + b"abc")
    assert next(frames) == b"abc"
    assert reader.buffered == 0 and not reader.next_ready
    os.write(w, struct.pack(">I", 1) + b"d" + struct.pack(">I", 2) + b"ef")
    assert next(frames) == b"d"
    assert reader.buffered == 6 and reader.next_ready
    assert next(frames) == b"ef"
    assert reader.buffered == 0 and not reader.next_ready
    os.write(w, struct.pack(">I", 8) + b"12345678")
    assert next(frames) == b"12345678"
    os.write(w, struct.pack(">I", 9) + b"x" * 9)
    with pytest.raises(FrameTooLarge):
        next(frames)


def test_frames_cut_anywhere_by_the_reads_arrive_whole_and_stay_intact(pipe: tuple[int, int]) -> None:
    # The reader reuses one buffer for every read: frames yielded before must not change when later
    # reads land in it, whether a read ended inside a header, inside a body or between frames.
    r, w = pipe
    payloads = [bytes((i * 7 + j) % 251 for j in range(i * 13 % 300)) for i in range(400)]
    stream = b"".join(struct.pack(">I", len(p)) + p for p in payloads)

    def produce() -> None:
        pos, step = 0, 1
        while pos < len(stream):
            os.write(w, stream[pos : pos + step])
            pos += step
            step = step % 97 + 1
        os.close(w)

    thread = write_in_thread(produce)
    got = list(FrameReader(r, 1 << 20).frames())
    thread.join()
    assert got == payloads


def test_reading_small_frames_allocates_no_read_sized_buffer_per_read(pipe: tuple[int, int]) -> None:
    # Allocating a read's worth (64 KiB) for every read and shrinking it to the few bytes that came
    # fragmented a long-running worker's heap: its RSS crept up with the calls it served.
    r, w = pipe
    frame = struct.pack(">I", 20) + b"x" * 20
    frames = FrameReader(r, 1 << 20).frames()
    os.write(w, frame)
    assert next(frames) == b"x" * 20
    tracemalloc.start()
    try:
        for _ in range(200):
            os.write(w, frame)
            assert next(frames) == b"x" * 20
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16_384, f"reading a 24-byte frame allocated {peak} bytes at its peak"


def _read_frames(r: int, count: int, timeout: float = 30.0) -> list[bytes]:
    """``count`` frames from the pipe; fails if they have not all come within ``timeout`` seconds (a
    bound for a test that would otherwise hang, not a speed requirement)."""
    reader = FrameReader(r, 1 << 20)
    frames = reader.frames()
    got: list[bytes] = []
    while len(got) < count:
        assert reader.wait_readable(timeout), f"only {len(got)} of {count} frames arrived"
        got.append(bytes(next(frames)))  # type: ignore[arg-type]
    return got


def _pending(r: int) -> bool:
    return select.select([r], [], [], 0)[0] != []


def test_held_frames_go_out_in_order_before_a_frame_that_is_not_held(pipe: tuple[int, int]) -> None:
    r, w = pipe
    writer = FrameWriter(w, 1 << 20, hold_limit=3600)
    assert writer.write_held(b"a") is True, "the first held frame starts a batch"
    assert writer.write_held(b"b") is False
    assert not _pending(r), "held frames wait"
    writer.write(b"c")
    assert _read_frames(r, 3) == [b"a", b"b", b"c"]
    writer.write_held(b"d")
    writer.write_held(b"x" * 5000)  # larger than a held frame may be: written at once, after d
    writer.write_held(b"e")
    writer.flush()
    assert _read_frames(r, 3) == [b"d", b"x" * 5000, b"e"]


def test_a_full_batch_is_written_without_a_flush(pipe: tuple[int, int]) -> None:
    r, w = pipe
    writer = FrameWriter(w, 1 << 20, hold_limit=3600)
    frames = [str(i).encode() for i in range(frame_writer.BATCH_FRAMES)]
    for frame in frames[:-1]:
        writer.write_held(frame)
    assert not _pending(r)
    writer.write_held(frames[-1])
    assert _read_frames(r, len(frames)) == frames


def test_held_frames_go_out_on_their_own_when_nothing_else_is_written(pipe: tuple[int, int]) -> None:
    r, w = pipe
    writer = FrameWriter(w, 1 << 20)
    for round_ in range(2):  # the second time, the flusher has to be woken from idle
        writer.write_held(b"one %d" % round_)
        writer.write_held(b"two %d" % round_)
        assert _read_frames(r, 2) == [b"one %d" % round_, b"two %d" % round_]
        for _ in range(3000):
            if writer._flusher == frame_writer._FLUSHER_IDLE:
                break
            threading.Event().wait(0.01)
        assert writer._flusher == frame_writer._FLUSHER_IDLE, "the flusher sleeps once nothing is held"


def test_the_holding_thread_writes_its_frames_on_release(pipe: tuple[int, int]) -> None:
    r, w = pipe
    writer = FrameWriter(w, 1 << 20, hold_limit=3600)
    writer.hold()
    writer.write(b"reply 1")
    writer.write(b"reply 2")
    other = write_in_thread(lambda: writer.write_held(b"chunk"))
    other.join()
    assert not _pending(r)
    writer.release()
    assert _read_frames(r, 3) == [b"reply 1", b"reply 2", b"chunk"]
    writer.write_held(b"held")
    writer.release()  # this thread held nothing since: the batch waits for its own reasons
    assert not _pending(r)
    writer.flush()
    assert _read_frames(r, 1) == [b"held"]
