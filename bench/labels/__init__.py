"""Labels of the benchmark sets: trusted reference answers that no verifier may read."""
