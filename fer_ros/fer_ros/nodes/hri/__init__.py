"""ROS4HRI (REP-155): the face topics emotion_node publishes with ``hri_topics`` and what
hri_expression_node reads and writes (docs/hri.md)."""
