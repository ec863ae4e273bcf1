"""Log lines go out through one writer thread (gateway/logsink.py): in order, never blocking the caller, and
dropped and counted rather than queued without end when the stream stops taking them."""

from __future__ import annotations

import io
import threading

from gateway.logsink import LineSink

WAIT_S = 30.0  # generous: only ever waited out when something is wrong


class StuckStream(io.StringIO):
    """A stream whose writes block until released (a pipe nobody drains), counting the calls."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        self.entered.set()
        assert self.release.wait(WAIT_S), "the test never released the stream"
        return super().write(text)


def test_lines_keep_their_order_and_many_go_out_in_one_write_while_the_stream_is_busy() -> None:
    stream = StuckStream()
    sink = LineSink(stream, linger_s=0)
    sink.write("first\n")
    sink.flush()
    assert stream.entered.wait(WAIT_S)  # the writer thread is now held inside the stream's write
    for i in range(1000):  # the caller is never held: it gets here while the stream is still stuck
        sink.write(f"line {i}\n")
        sink.flush()
    assert not stream.release.is_set() and stream.writes == 1
    stream.release.set()
    sink.close()
    lines = stream.getvalue().splitlines()
    assert lines == ["first", *(f"line {i}" for i in range(1000))]
    assert stream.writes <= 3, stream.writes  # the 1000 lines that gathered went out together


def test_past_the_limit_lines_are_dropped_and_counted_instead_of_waiting() -> None:
    stream = StuckStream()
    dropped: list[int] = []
    sink = LineSink(stream, on_drop=lambda: dropped.append(1), max_pending=100, linger_s=0)
    sink.write("held\n")
    sink.flush()
    assert stream.entered.wait(WAIT_S)
    for i in range(50):
        sink.write(f"line {i:03d}\n")  # 9 characters each: 12 fit under the limit, then it is full
        sink.flush()
    assert len(dropped) == 50 - 12, len(dropped)
    stream.release.set()
    sink.close()
    assert stream.getvalue().splitlines() == ["held", *(f"line {i:03d}" for i in range(12))]


def test_an_idle_sink_writes_a_line_at_once_and_close_writes_what_is_left() -> None:
    stream = io.StringIO()
    sink = LineSink(stream)
    sink.write('{"event": "one"}\n')
    sink.write('{"event": "two"}\n')  # not flushed: close still writes it
    sink.close()
    assert stream.getvalue() == '{"event": "one"}\n{"event": "two"}\n'
    sink.close()  # twice is fine
