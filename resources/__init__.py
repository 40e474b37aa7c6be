"""Data files shipped with procviz: presets, the application icon, the desktop entry."""
