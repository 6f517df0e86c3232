"""Media files the studio writes: recordings of a session's output."""

from studio.media.mp4 import MediaError, Mp4Writer

__all__ = ["MediaError", "Mp4Writer"]
