"""Where the project is, for tests that run its command lines or write artifacts beside it."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
