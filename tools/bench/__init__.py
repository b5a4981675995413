"""radio's benchmark: radio beside raw pyzmq, Redis, NATS and MQTT, measured in one run."""
