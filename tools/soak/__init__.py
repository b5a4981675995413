"""radio's soak: a bounded fault-injection run that checks the guarantees under faults."""
