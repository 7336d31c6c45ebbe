"""Playback accounting: the caller's playhead from marks sent and echoed, on a fake clock."""

from __future__ import annotations

import pytest

from patter_core.playback import PlaybackTracker


def test_nothing_sent_means_nothing_playing() -> None:
    tracker = PlaybackTracker()
    assert not tracker.playing
    assert tracker.interrupt(now=5.0).heard == ()


def test_playhead_advances_in_real_time_from_the_first_chunk() -> None:
    tracker = PlaybackTracker()
    tracker.sent("item", 100, now=10.0)
    tracker.sent("item", 100, now=10.0)
    assert tracker.heard_ms("item", now=10.0) == 0
    assert tracker.heard_ms("item", now=10.040) == pytest.approx(40)


def test_playhead_never_passes_the_oldest_unechoed_mark() -> None:
    tracker = PlaybackTracker()
    tracker.sent("item", 100, now=0.0)
    tracker.sent("item", 100, now=0.0)
    # 300 ms later the first mark has still not come back: the carrier is behind.
    assert tracker.heard_ms("item", now=0.300) == pytest.approx(100)


def test_mark_echo_reanchors_the_playhead() -> None:
    tracker = PlaybackTracker()
    first = tracker.sent("item", 100, now=0.0)
    tracker.sent("item", 100, now=0.0)
    assert tracker.echoed(first, now=0.150)  # played late: 50 ms of network delay
    assert tracker.heard_ms("item", now=0.160) == pytest.approx(110)


def test_all_marks_echoed_means_everything_heard_and_nothing_playing() -> None:
    tracker = PlaybackTracker()
    marks = [tracker.sent("item", 80, now=0.0) for _ in range(3)]
    for i, mark in enumerate(marks):
        tracker.echoed(mark, now=0.08 * (i + 1))
    assert not tracker.playing
    assert tracker.heard_ms("item", now=1.0) == pytest.approx(240)


def test_interrupt_reports_each_unfinished_item_and_clears_the_queue() -> None:
    tracker = PlaybackTracker()
    a1 = tracker.sent("preamble", 100, now=0.0)
    tracker.sent("answer", 100, now=0.0)
    tracker.sent("answer", 100, now=0.0)
    tracker.echoed(a1, now=0.1)
    interruption = tracker.interrupt(now=0.130)
    # "preamble" was heard to its end, so it needs no truncation; "answer" 30 ms in.
    assert interruption.heard == (("answer", 30),)
    assert not tracker.playing


def test_echoes_of_flushed_marks_are_ignored() -> None:
    tracker = PlaybackTracker()
    mark = tracker.sent("item", 100, now=0.0)
    tracker.interrupt(now=0.01)
    assert tracker.echoed(mark, now=0.02) is False
    assert tracker.echoed("never-sent", now=0.02) is False


def test_new_audio_after_a_pause_starts_playing_when_sent() -> None:
    tracker = PlaybackTracker()
    mark = tracker.sent("first", 100, now=0.0)
    tracker.echoed(mark, now=0.1)
    tracker.sent("second", 200, now=5.0)
    assert tracker.heard_ms("second", now=5.050) == pytest.approx(50)


def test_audio_that_arrives_after_the_carrier_ran_dry_starts_when_sent() -> None:
    tracker = PlaybackTracker()
    tracker.sent("item", 20, now=0.0, mark=False)
    # The engine is slower than real time: the next chunk comes 10 ms after the first ran out.
    tracker.sent("item", 20, now=0.030, mark=False)
    assert tracker.heard_ms("item", now=0.040) == pytest.approx(30)


def test_a_queue_still_playing_by_the_estimate_keeps_its_anchor() -> None:
    tracker = PlaybackTracker()
    tracker.sent("item", 100, now=0.0, mark=False)
    tracker.sent("item", 100, now=0.050, mark=False)  # queued behind the first
    assert tracker.heard_ms("item", now=0.120) == pytest.approx(120)


def test_unmarked_chunks_play_until_a_later_mark_comes_back() -> None:
    tracker = PlaybackTracker()
    assert tracker.sent("item", 40, now=0.0, mark=False) == ""
    assert tracker.unmarked_ms == 40
    mark = tracker.sent("item", 60, now=0.0)  # the mark covers both chunks
    assert tracker.unmarked_ms == 0
    assert tracker.heard_ms("item", now=0.070) == pytest.approx(70)
    assert tracker.echoed(mark, now=0.1)
    assert not tracker.playing


def test_the_playhead_cap_is_the_oldest_marked_chunk() -> None:
    tracker = PlaybackTracker()
    tracker.sent("item", 100, now=0.0, mark=False)
    tracker.sent("item", 100, now=0.0)  # marked: ends at 200 ms
    tracker.sent("item", 100, now=0.0, mark=False)
    assert tracker.heard_ms("item", now=0.5) == pytest.approx(200)


def test_mark_last_closes_a_burst_once() -> None:
    tracker = PlaybackTracker()
    tracker.sent("item", 30, now=0.0, mark=False)
    tracker.sent("item", 30, now=0.0, mark=False)
    mark = tracker.mark_last()
    assert mark and tracker.mark_last() == ""
    assert tracker.heard_ms("item", now=1.0) == pytest.approx(60)
    assert tracker.echoed(mark, now=0.06) and not tracker.playing
    assert tracker.last_item is None
