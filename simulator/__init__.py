"""Board emulators, fleet runner and fault injection (import name: ledctl.simulator)."""
