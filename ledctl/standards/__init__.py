"""Official indices as pure functions: no I/O, no clock."""
