"""procviz GUI: PySide6 + pyqtgraph views over the engine's Timeline model."""
