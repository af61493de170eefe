"""Every node parameter in one place: the nodes' tables, their declaration and validation, the
launch arguments that override them, and docs/parameters.md generated from the tables."""
