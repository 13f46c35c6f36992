"""The lessons' folder on the import path, so that the checker tests can
``from checks import ExerciseError`` and ``from checks.lessonNN import ...``
as the lessons do."""
import sys
from pathlib import Path

LESSONS = Path(__file__).resolve().parents[2] / "lessons"
if str(LESSONS) not in sys.path:
    sys.path.insert(0, str(LESSONS))
