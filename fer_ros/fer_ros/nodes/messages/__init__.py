"""ROS messages in and out: images to and from pixels (their serialized form included), results
as plain records, decoder chatter routed to the log, and a publish that never takes a node
down."""
