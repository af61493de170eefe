"""fer_ros's expression classes as REP-155's: hri_msgs/Expression's constants.

FER-2013's seven classes all have an Expression constant of the same meaning; the spelling
differs for four of them (disgust, fear, surprise and the adjectives the standard uses).
Valence and arousal stay 0: none of fer_ros's models estimates them, and a value made up from
the category would look like a measurement.
"""

from __future__ import annotations

from hri_msgs.msg import Expression
from std_msgs.msg import Header

from fer_ros.perception.expressions.labels import canonical_label

TO_EXPRESSION: dict[str, str] = {
    "angry": Expression.ANGRY,
    "disgust": Expression.DISGUSTED,
    "fear": Expression.SCARED,
    "happy": Expression.HAPPY,
    "sad": Expression.SAD,
    "surprise": Expression.SURPRISED,
    "neutral": Expression.NEUTRAL,
}
"""fer_ros's class (perception/expressions/labels.py's EMOTIONS) to the Expression constant."""


def expression_name(label: str) -> str:
    """The Expression constant of a label (a model's own spelling is made canonical first);
    ValueError for a label that has none."""
    return TO_EXPRESSION[canonical_label(label)]


def expression_message(header: Header, label: str, confidence: float) -> Expression:
    """The Expression of one face, under the header of the image it was seen in."""
    return Expression(header=header, expression=expression_name(label),
                      confidence=float(confidence), valence=0.0, arousal=0.0)
