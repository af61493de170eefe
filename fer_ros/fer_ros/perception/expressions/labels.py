"""The seven FER-2013 expression classes and the spellings users bring from other datasets."""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""FER-2013's class order (its `emotion` column is an index into this tuple)."""

_SYNONYMS: dict[str, str] = {
    "anger": "angry",
    "disgusted": "disgust",
    "disgusting": "disgust",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happiness": "happy",
    "happy": "happy",
    "joy": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "neutrality": "neutral",
    "calm": "neutral",
}


def canonical_label(name: str) -> str:
    """Map a class name as spelled by a dataset (``Angry``, ``anger``, ``Surprised``) to ours.

    Raises ValueError naming the accepted labels, so an unknown folder is never silently
    mapped to a wrong class.
    """
    key = name.strip().lower()
    if key in EMOTIONS:
        return key
    if key in _SYNONYMS:
        return _SYNONYMS[key]
    raise ValueError(
        f"unknown expression class {name!r}: expected one of {', '.join(EMOTIONS)} "
        f"(or a common synonym such as {', '.join(sorted(_SYNONYMS))})"
    )
