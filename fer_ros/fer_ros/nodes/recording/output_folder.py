"""The files of `fer bringup --output`: results as JSON lines, the annotated video in real time,
every Nth annotated frame as PNG, and summary.json at the end."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fer_ros.nodes.recording.face_summary import FaceSummary
from fer_ros.output_files import OutputFileError, check_output_path, write_atomically

VIDEO_NAME = "annotated.mp4"
RECORDS_NAME = "emotions.jsonl"
SUMMARY_NAME = "summary.json"
FRAMES_DIR = "frames"
MAX_GAP_SECONDS = 5.0
"""Longest stretch of time a video gap is filled with the previous frame (after a stall)."""


class TimedVideo:
    """An annotated video that plays in real time although results come at an uneven rate.

    Frames are placed by their stamps on the camera's frame grid; a gap (frames the emotion node
    skipped while busy) holds the previous frame, so the video keeps the scene's timing.

    A video has one frame size, the first frame's, and OpenCV's writer silently drops frames of
    any other (a folder of photos of different sizes gave a one-frame video): such a frame is
    scaled to fit that size, keeping its aspect, and padded with black (``letterboxed``).
    """

    def __init__(self, path: Path, fps: float):
        self.path = path
        self.fps = fps
        self.frames = 0
        self.letterboxed = 0
        """Frames of another size than the first, scaled and padded to fit it."""
        self.size: tuple[int, int] | None = None
        self._writer: Any = None
        self._start: float | None = None
        self._last: np.ndarray | None = None

    def add(self, frame: np.ndarray, stamp: float) -> None:
        if self._writer is None:
            height, width = frame.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"),
                                           self.fps, (width, height))
            if not self._writer.isOpened():
                raise OSError(f"OpenCV cannot write {self.path} (mp4v)")
            self._start = stamp
            self.size = (width, height)
        elif frame.shape[1::-1] != self.size:
            frame = letterbox(frame, *self.size)
            self.letterboxed += 1
        slot = round((stamp - self._start) * self.fps)
        longest = round(MAX_GAP_SECONDS * self.fps)
        if not self.frames - longest <= slot <= self.frames + longest:
            # A stamp far off the grid (a bag looping, a camera restarted, or anyone on the
            # domain sending a frame stamped 2038) starts the grid again at this frame: one
            # frame in the video, never seconds of filler for each such stamp.
            self._start = stamp - self.frames / self.fps
            slot = self.frames
        if slot < self.frames:
            return
        fill = min(slot - self.frames, longest)
        for _ in range(fill):
            self._writer.write(self._last)
        self._writer.write(frame)
        self.frames += fill + 1
        self._last = frame

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def letterbox(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """``frame`` scaled to fit ``width`` x ``height`` whole, keeping its aspect, centred on
    black."""
    scale = min(width / frame.shape[1], height / frame.shape[0])
    fitted = (max(1, min(width, round(frame.shape[1] * scale))),
              max(1, min(height, round(frame.shape[0] * scale))))
    resized = cv2.resize(frame, fitted, interpolation=cv2.INTER_AREA if scale < 1
                         else cv2.INTER_LINEAR)
    canvas = np.zeros((height, width, 3), np.uint8)
    left, top = (width - fitted[0]) // 2, (height - fitted[1]) // 2
    canvas[top:top + fitted[1], left:left + fitted[0]] = resized
    return canvas


class JsonLines:
    """A JSON-lines file that holds whole lines only: a write that fails part-way (a full disk)
    is cut back to the last complete line, and the first failure stops further writes."""

    def __init__(self, path: Path):
        real = check_output_path(path, str(path))
        self.path = path
        self._fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK
                           | os.O_CLOEXEC, 0o666)
        self._size = 0

    def write(self, record: dict) -> None:
        data = memoryview((json.dumps(record) + "\n").encode("utf-8"))
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError as exc:
            os.ftruncate(self._fd, self._size)
            raise OutputFileError(f"cannot write {self.path} ({exc.strerror})") from None
        self._size = os.lseek(self._fd, 0, os.SEEK_CUR)

    def close(self) -> None:
        os.close(self._fd)


class Output:
    """The files of `--output`: results as JSON lines, the annotated video and PNG frames.

    The first write that fails (a full disk) is kept in ``error``: the run stops, and what was
    written before it stays whole (complete JSON lines, complete PNGs)."""

    def __init__(self, folder: Path, fps: float, png_every: int):
        self.folder = folder
        self.png_every = png_every
        folder.mkdir(parents=True, exist_ok=True)
        self.frames_dir = folder / FRAMES_DIR
        self.frames_dir.mkdir(exist_ok=True)
        for old in self.frames_dir.glob("frame_*.png"):
            old.unlink()
        self.video = TimedVideo(folder / VIDEO_NAME, fps)
        self.records = JsonLines(folder / RECORDS_NAME)
        self.annotated = 0
        self.pngs = 0
        self.video_error: str | None = None
        self.error: str | None = None

    def add_record(self, record: dict) -> None:
        if self.error is not None:
            return
        try:
            self.records.write(record)
        except OutputFileError as exc:
            self.error = str(exc)

    def add_frame(self, frame: np.ndarray, stamp: float) -> None:
        if self.error is not None:
            return
        self.annotated += 1
        if self.video_error is None:
            try:
                self.video.add(frame, stamp)
            except OSError as exc:
                self.video_error = str(exc)
        if self.png_every > 0 and (self.annotated - 1) % self.png_every == 0:
            path = self.frames_dir / f"frame_{self.annotated:06d}.png"
            encoded, png = cv2.imencode(".png", frame)
            try:
                if encoded:
                    write_atomically(path, png.tobytes(), str(path))
                    self.pngs += 1
            except OutputFileError as exc:
                self.error = str(exc)

    def close(self, summary: FaceSummary) -> None:
        self.records.close()
        self.video.close()
        path = self.folder / SUMMARY_NAME
        try:
            write_atomically(path, (json.dumps(summary.as_dict(), indent=2) + "\n")
                             .encode("utf-8"), str(path))
        except OutputFileError as exc:
            self.error = self.error or str(exc)

    def describe(self) -> str:
        clip = self.video
        resized = (f"; {clip.letterboxed} frames of other sizes fitted into "
                   f"{clip.size[0]}x{clip.size[1]}" if clip.letterboxed and clip.size else "")
        video = (f"{clip.path} ({clip.frames} frames at {clip.fps:g} fps{resized})"
                 if self.video_error is None else f"no video ({self.video_error})")
        return (f"{video}, {self.pngs} PNG in {self.frames_dir}, "
                f"{self.folder / RECORDS_NAME}, {self.folder / SUMMARY_NAME}")
