"""Development tooling: the local real stack, the demo, the traffic simulator, worker processes."""
