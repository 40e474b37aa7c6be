"""Worker side: code that runs inside worker processes. Standard library only (no numpy, no psutil)."""
