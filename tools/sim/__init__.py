"""A deterministic simulator that drives radio's real pure cores over a simulated network."""
