"""radio's fault harness: simulated hosts in network namespaces joined by faulty links."""
