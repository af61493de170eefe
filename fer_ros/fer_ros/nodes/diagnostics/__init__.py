"""Node health: the ``/diagnostics`` publisher, each node's checks, and the frame loss they
report. Read by the nodes, never reading them: a check gets the counters it judges."""
