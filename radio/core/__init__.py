"""The socket-free cores: every decision of radio, compiled when the build can, clock-injected."""
