"""What is to be said, independent of any board."""
