"""The web console: server-rendered pages over the register, the engine and the exporters."""
