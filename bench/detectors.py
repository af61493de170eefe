"""Recall, false positives and speed of the face detectors on faces that scikit-image ships.

Run from the repository root: ``.venv/bin/python bench/detectors.py [--json OUT]``. A detector
name may carry RetinaFace's inference size: ``retinaface@640`` is ``detection_size`` 640.

Two sets of scenes. The first is 640x480 BGR, the size of a typical robot camera, so its
timings ("ms/frame") are per frame of that size, all built from images in ``skimage.data``:

- astronaut: the one sharp colour face with its whole head, scaled so the face is 24..520 px
  (4 m to 0.2 m from a 640 px camera with a 60 degree field of view) and placed at random on a
  background, half of them mirrored; a few tilted by 20 degrees, as heads often are. At 400 px
  and more the face fills the frame and is cut by its edge.
- lfw N px: the 100 faces of ``lfw_subset()`` (25x25 gray, cut brows to chin and cheek to
  cheek, so without the outline of the head) upscaled to N px and pasted on gray backgrounds,
  up to six per frame. 400 px faces fill most of the frame.
- camera: ``camera()`` is not face-free: its cameraman shows his face in profile.
- lfw non-faces, no-face images: the 100 non-face patches of ``lfw_subset()`` pasted the same
  way, and 19 other skimage images (and their mirror images): every detection is a false one.

The second (``--photos``; after ``make photos``) holds real faces from face-api's demo photos,
composed as the tests compose them (fer_ros/test/face_photos.py): 1280x720 and 1920x1080 frames
with 8 faces of 90 to 120 px, in colour and gray (6 frames each), a close-up of each of the 22
faces cut by the frame's edge (640x480, the face box 80 % of the height) in colour and gray,
and 640x480 frames with six 32 px faces; its timings are medians per group, as frame sizes
differ.

A detection is a hit when its box overlaps a face's true box with IoU >= 0.3 (each face matched
at most once); every other detection is a false positive. True boxes follow the Haar convention
(brows to chin, cheek to cheek): the pasted LFW square, and hand-checked boxes for the astronaut
and the cameraman. ``--calibrate`` measures how BlazeFace's own boxes relate to Haar's on the
faces both find: the source of the correction constants in
``fer_ros/perception/detection/blazeface.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from fer_ros.perception.detection.blazeface import BLAZEFACE_MODELS, BlazeFaceDetector
from fer_ros.perception.detection.detections import Box
from fer_ros.perception.detection.detectors import create_detector
from fer_ros.perception.detection.retinaface import RetinaFaceDetector
from fer_ros.perception.tracking.tracks import box_iou

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fer_ros" / "test"))
from skimage_pictures import (  # noqa: E402
    ASTRONAUT_FACE,
    CAMERAMAN_FACE,
    NO_FACE_IMAGES,
    to_bgr,
)

FRAME_W, FRAME_H = 640, 480
HIT_IOU = 0.3
BACKGROUNDS = ("coffee", "rocket", "brick", "grass", "gravel", "page", "text", "clock")
ASTRONAUT_SIZES = {
    "24-32 px": (24, 32), "40-64 px": (40, 48, 64), "96-160 px": (96, 128, 160),
    "200-320 px": (200, 256, 320), "400-520 px, fills frame": (400, 460, 520),
}
LFW_SIZES = (24, 40, 64, 100, 160, 250, 400)
NON_FACE_SIZES = (40, 100, 160)
DEFAULT_DETECTORS = ("haar", "blazeface_short", "blazeface_full", "retinaface@480",
                     "retinaface@640", "retinaface@960", "retinaface@1280", "retinaface@1920")
HD_FACE_SIZES = (90, 120)
"""Smallest and largest face width in the HD frames of ``--photos``, px."""


@dataclass
class Scene:
    group: str
    frame: np.ndarray
    faces: list[Box] = field(default_factory=list)


def cover(image: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    """Scale an image to cover the frame and crop its middle; returns scale and crop offset."""
    scale = max(FRAME_W / image.shape[1], FRAME_H / image.shape[0])
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
                         if scale < 1 else cv2.INTER_LINEAR)
    x0 = (resized.shape[1] - FRAME_W) // 2
    y0 = (resized.shape[0] - FRAME_H) // 2
    return resized[y0:y0 + FRAME_H, x0:x0 + FRAME_W].copy(), scale, x0, y0


def backgrounds(gray: bool) -> list[np.ndarray]:
    frames = [cover(to_bgr(getattr(skimage.data, name)()))[0] for name in BACKGROUNDS]
    if gray:
        frames = [cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
                  for f in frames]
    return frames


def astronaut_scenes(rng: np.random.Generator) -> list[Scene]:
    """The astronaut warped onto backgrounds so that her face has a chosen size and place."""
    source = to_bgr(skimage.data.astronaut())
    fx, fy, fw, fh = ASTRONAUT_FACE
    centre = np.array([fx + fw / 2, fy + fh / 2])
    bgs = backgrounds(gray=False)
    scenes = []
    plans = [(f"astronaut {label}", size, 0.0)
             for label, sizes in ASTRONAUT_SIZES.items() for size in sizes for _ in range(4)]
    plans += [("astronaut 64-256 px tilted 20deg", size, angle)
              for size in (64, 128, 256) for angle in (-20.0, 20.0)]
    for i, (group, size, angle) in enumerate(plans):
        scale = size / fw
        margin = size / 2 + 4
        target = np.array([rng.uniform(margin, max(margin, FRAME_W - margin)),
                           rng.uniform(margin, max(margin, FRAME_H - margin))])
        # Shrink with an area filter first: warpAffine alone would alias like no real camera.
        shrink = min(scale, 1.0)
        small = cv2.resize(source, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        pivot = centre * shrink
        matrix = cv2.getRotationMatrix2D((float(pivot[0]), float(pivot[1])), angle, scale / shrink)
        matrix[:, 2] += target - pivot
        frame = bgs[i % len(bgs)].copy()
        cv2.warpAffine(small, matrix, (FRAME_W, FRAME_H), dst=frame, flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_TRANSPARENT)
        if i % 2:
            frame = cv2.flip(frame, 1)
            target[0] = FRAME_W - target[0]
        side = round(size)
        box = (round(target[0] - side / 2), round(target[1] - side / 2), side, side)
        scenes.append(Scene(group, frame, [box]))
    return scenes


def pasted_scenes(patches: np.ndarray, sizes: tuple[int, ...], group: str, is_face: bool,
                  rng: np.random.Generator) -> list[Scene]:
    """Patches upscaled to each size and pasted, up to six a frame, in jittered grid cells."""
    bgs = backgrounds(gray=True)
    scenes = []
    for size in sizes:
        # Big faces take a frame each: every other patch is enough there and saves time.
        patches_here = patches if size < 200 else patches[::2]
        cell = int(size * 1.25)
        cols, rows = max(1, FRAME_W // cell), max(1, FRAME_H // cell)
        cells = [(c, r) for r in range(rows) for c in range(cols)]
        per_frame = min(6, len(cells))
        for start in range(0, len(patches_here), per_frame):
            slots = [cells[k] for k in rng.choice(len(cells), per_frame, replace=False)]
            frame = bgs[len(scenes) % len(bgs)].copy()
            boxes = []
            for (c, r), patch in zip(slots, patches_here[start:start + per_frame]):
                cell_w, cell_h = FRAME_W // cols, FRAME_H // rows
                x = c * cell_w + int(rng.integers(0, max(1, cell_w - size)))
                y = r * cell_h + int(rng.integers(0, max(1, cell_h - size)))
                x, y = min(x, FRAME_W - size), min(y, FRAME_H - size)
                big = cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR)
                frame[y:y + size, x:x + size] = big[:, :, None]
                boxes.append((x, y, size, size))
            label = f"{group} {size} px" if is_face else group
            scenes.append(Scene(label, frame, boxes if is_face else []))
    return scenes


def build_scenes(seed: int = 0) -> list[Scene]:
    rng = np.random.default_rng(seed)
    lfw = (skimage.data.lfw_subset() * 255).round().astype(np.uint8)
    scenes = astronaut_scenes(rng)
    scenes += pasted_scenes(lfw[:100], LFW_SIZES, "lfw", True, rng)
    camera, scale, x0, y0 = cover(to_bgr(skimage.data.camera()))
    x, y, w, h = CAMERAMAN_FACE
    box = (round(x * scale) - x0, round(y * scale) - y0, round(w * scale), round(h * scale))
    mirrored = (FRAME_W - box[0] - box[2], box[1], box[2], box[3])
    scenes += [Scene("camera (profile face)", camera, [box]),
               Scene("camera (profile face)", cv2.flip(camera, 1), [mirrored])]
    scenes += pasted_scenes(lfw[100:], NON_FACE_SIZES, "lfw non-faces", False, rng)
    for name in NO_FACE_IMAGES:
        frame = cover(to_bgr(getattr(skimage.data, name)()))[0]
        scenes += [Scene("no-face images", frame), Scene("no-face images", cv2.flip(frame, 1))]
    return scenes


def photo_scenes(seed: int = 0) -> list[Scene]:
    """Real faces of face-api's demo photos in HD, close-up, gray and far scenes."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fer_ros" / "test"))
    from face_photos import all_faces, close_up, crowd_frame, to_gray_bgr

    rng = np.random.default_rng(seed)
    scenes = []
    for k in range(6):
        sizes = [int(v) for v in rng.integers(HD_FACE_SIZES[0], HD_FACE_SIZES[1] + 1, 8)]
        for width, height in ((1280, 720), (1920, 1080)):
            frame, boxes = crowd_frame(width, height, sizes, seed=k)
            group = f"{width}x{height}, 8 faces of 90-120 px"
            scenes += [Scene(group, frame, boxes), Scene(f"{group}, gray", to_gray_bgr(frame),
                                                         boxes)]
    for name, box in all_faces():
        frame, truth = close_up(name, box)
        scenes += [Scene("close-up cut by the frame, 640x480", frame, [truth]),
                   Scene("close-up cut by the frame, gray", to_gray_bgr(frame), [truth])]
    for k in range(3):
        frame, boxes = crowd_frame(640, 480, [32] * 6, seed=10 + k)
        scenes.append(Scene("640x480, 32 px faces", frame, boxes))
    return scenes


def make_detector(name: str):
    """``retinaface@960`` is RetinaFace at detection_size 960; other names as the node's."""
    base, _, size = name.partition("@")
    return create_detector(base, detection_size=int(size)) if size else create_detector(base)



def match(faces: list[Box], boxes: list[Box]) -> tuple[dict[int, int], int]:
    """Greedy one-to-one matching, best overlaps first: face index -> box index, and the FPs."""
    pairs = sorted(((box_iou(f, b), i, j) for i, f in enumerate(faces)
                    for j, b in enumerate(boxes)), reverse=True)
    hits: dict[int, int] = {}
    used: set[int] = set()
    for overlap, i, j in pairs:
        if overlap >= HIT_IOU and i not in hits and j not in used:
            hits[i] = j
            used.add(j)
    return hits, len(boxes) - len(used)


def run(detector_names: tuple[str, ...], scenes: list[Scene], repeats: int) -> dict:
    """Detect on every scene; collect per-group counts and per-frame times."""
    grays = [cv2.cvtColor(s.frame, cv2.COLOR_BGR2GRAY) for s in scenes]
    results: dict = {}
    found: dict[str, list[list[Box]]] = {}
    for name in detector_names:
        detector = make_detector(name)
        detector.detect(scenes[0].frame, grays[0])  # warm-up: one-off set-up costs
        groups: dict[str, dict[str, int]] = defaultdict(
            lambda: {"frames": 0, "faces": 0, "hits": 0, "false_positives": 0, "ms": []})
        times, found[name] = [], []
        for scene, gray in zip(scenes, grays):
            for _ in range(repeats):
                start = time.perf_counter()
                detections = detector.detect(scene.frame, gray)
                times.append((time.perf_counter() - start) * 1e3)
                groups[scene.group]["ms"].append(times[-1])
            boxes = [d.box for d in detections]
            found[name].append(boxes)
            hits, false_positives = match(scene.faces, boxes)
            counts = groups[scene.group]
            counts["frames"] += 1
            counts["faces"] += len(scene.faces)
            counts["hits"] += len(hits)
            counts["false_positives"] += false_positives
        for counts in groups.values():
            counts["recall"] = counts["hits"] / counts["faces"] if counts["faces"] else None
            counts["ms_median"] = statistics.median(counts.pop("ms"))
        results[name] = {
            "ms_median": statistics.median(times),
            "ms_p95": float(np.percentile(times, 95)),
            "groups": dict(groups),
        }
    if "haar" in found:
        for name in detector_names:
            if name != "haar":
                results[name]["iou_with_haar_median"] = {
                    source: agreement(scenes, found["haar"], found[name], source)
                    for source in ("astronaut", "lfw")
                }
    return results


def agreement(scenes: list[Scene], haar: list[list[Box]], other: list[list[Box]],
              source: str) -> float:
    """Median IoU between Haar's box and another detector's on the faces both find."""
    overlaps = []
    for scene, haar_boxes, other_boxes in zip(scenes, haar, other):
        if not scene.group.startswith(source):
            continue
        haar_hits, _ = match(scene.faces, haar_boxes)
        other_hits, _ = match(scene.faces, other_boxes)
        overlaps += [box_iou(haar_boxes[haar_hits[i]], other_boxes[other_hits[i]])
                     for i in haar_hits.keys() & other_hits.keys()]
    return statistics.median(overlaps) if overlaps else float("nan")


def native_boxes(scenes: list[Scene]) -> dict[str, list[np.ndarray]]:
    """Each neural detector's own boxes, before its Haar correction: rows of (cx, cy, w, h)."""
    detectors = {f"blazeface_{v}": BlazeFaceDetector(v) for v in BLAZEFACE_MODELS}
    retinaface = RetinaFaceDetector()
    boxes: dict[str, list[np.ndarray]] = defaultdict(list)
    for scene in scenes:
        for name, blazeface in detectors.items():
            boxes[name].append(blazeface.detect_native(scene.frame)[:, :4])
        corners = retinaface.detect_native(scene.frame)[0]
        boxes["retinaface"].append(np.hstack([(corners[:, :2] + corners[:, 2:]) / 2,
                                              corners[:, 2:] - corners[:, :2]]))
    return boxes


def calibrate(scenes: list[Scene]) -> dict:
    """How Haar boxes sit relative to each neural detector's own boxes on the faces both find.

    Per detector and source of faces: the quartiles of Haar's centre minus the detector's (in
    its box widths and heights) and of Haar's side over the mean of its box's sides.
    """
    haar = create_detector("haar")
    scenes = [s for s in scenes if s.faces and not s.group.startswith("camera")]
    # (a profile face says nothing about the frontal convention)
    native = native_boxes(scenes)
    samples: dict[str, dict[str, list]] = {name: defaultdict(list) for name in native}
    for k, scene in enumerate(scenes):
        source = "astronaut" if scene.group.startswith("astronaut") else "lfw"
        gray = cv2.cvtColor(scene.frame, cv2.COLOR_BGR2GRAY)
        haar_boxes = [d.box for d in haar.detect(scene.frame, gray)]
        hits, _ = match(scene.faces, haar_boxes)
        for name, per_scene in native.items():
            for j in hits.values():
                hx, hy, hw, hh = haar_boxes[j]
                hcx, hcy = hx + hw / 2, hy + hh / 2
                inside = [r for r in per_scene[k]
                          if hx <= r[0] <= hx + hw and hy <= r[1] <= hy + hh]
                if inside:
                    cx, cy, w, h = min(inside,
                                       key=lambda r: (r[0] - hcx) ** 2 + (r[1] - hcy) ** 2)
                    samples[name][source].append(
                        ((hcx - cx) / w, (hcy - cy) / h, hw / ((w + h) / 2)))
    return {
        name: {
            source: {"faces": len(rows), **{
                key: [round(float(q), 3) for q in np.percentile(column, [25, 50, 75])]
                for key, column in zip(("shift_x", "shift_y", "side_scale"), zip(*rows))}}
            for source, rows in by_source.items()
        }
        for name, by_source in samples.items()
    }


def print_calibration(calibration: dict) -> None:
    print("Haar box relative to each detector's own box, on faces both find: "
          "quartiles 25/50/75 %")
    print("detector         source      faces  shift_x (widths)     shift_y (heights)    "
          "side scale")
    for name, by_source in calibration.items():
        for source, c in sorted(by_source.items()):
            cells = "".join(f"{'/'.join(f'{q:+.3f}' for q in c[k]):<21}"
                            for k in ("shift_x", "shift_y"))
            scale = "/".join(f"{q:.3f}" for q in c["side_scale"])
            print(f"{name:<16} {source:<11} {c['faces']:>5}  {cells}{scale}")


def print_table(results: dict, photos: bool) -> None:
    names = list(results)
    groups = list(next(iter(results.values()))["groups"])
    width = max(len(g) for g in groups) + 2
    print(f"Hit: IoU >= {HIT_IOU} with a true face box. Cells: hits/faces (recall) FP, "
          "or FP alone where there are no faces. "
          + ("face-api's photos" if photos else f"Frames {FRAME_W}x{FRAME_H}."))
    print("".ljust(width) + "".join(n.rjust(24) for n in names))
    for group in groups:
        row = group.ljust(width)
        for name in names:
            c = results[name]["groups"][group]
            if c["faces"]:
                cell = f"{c['hits']}/{c['faces']} ({c['recall']:.0%}) {c['false_positives']}"
            else:
                cell = f"FP {c['false_positives']} in {c['frames']}"
            row += cell.rjust(24)
        print(row)
    totals = {}
    for name in names:
        g = list(results[name]["groups"].values())
        faces = sum(c["faces"] for c in g)
        totals[name] = (sum(c["hits"] for c in g), faces, sum(c["false_positives"] for c in g))
    print("all".ljust(width) + "".join(
        f"{h}/{f} ({h / f:.0%}) {fp}".rjust(24) for h, f, fp in totals.values()))
    if photos:
        print("ms per frame, median by group")
        for group in groups:
            print(group.ljust(width) + "".join(
                f"{results[n]['groups'][group]['ms_median']:.1f}".rjust(24) for n in names))
        return
    print("ms/frame median, p95".ljust(width) + "".join(
        f"{results[n]['ms_median']:.2f}, {results[n]['ms_p95']:.2f}".rjust(24) for n in names))
    for source in ("astronaut", "lfw"):
        print(f"median IoU with Haar, {source}".ljust(width) + "".join(
            (f"{results[n]['iou_with_haar_median'][source]:.2f}"
             if "iou_with_haar_median" in results[n] else "-").rjust(24) for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON here")
    parser.add_argument("--detectors", nargs="+", default=list(DEFAULT_DETECTORS),
                        help="detector names (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="detections per frame, for steadier timings (default: 1)")
    parser.add_argument("--calibrate", action="store_true",
                        help="measure the Haar box relation of the neural detectors' own boxes "
                             "instead of benchmarking")
    parser.add_argument("--photos", action="store_true",
                        help="the HD, close-up, gray and far scenes of face-api's photos "
                             "instead of skimage's 640x480 set")
    args = parser.parse_args()
    scenes = photo_scenes() if args.photos else build_scenes()
    if args.calibrate:
        result = {"calibration": calibrate(scenes)}
        print_calibration(result["calibration"])
    else:
        result = {"scenes": "face-api photos" if args.photos else f"skimage {FRAME_W}x{FRAME_H}",
                  "hit_iou": HIT_IOU, "frames": len(scenes),
                  "detectors": run(tuple(args.detectors), scenes, args.repeats)}
        print_table(result["detectors"], args.photos)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
