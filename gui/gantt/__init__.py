"""The Gantt chart: lanes axis, one batch-painting item for bars/strips/spans, legend, and widget.

Public: :class:`GanttWidget`. The numpy core (``series``, ``merge``, ``model``) knows no Qt and is
shared with :mod:`procviz.gui.render`, so exports show exactly what the screen shows.
"""

from procviz.gui.gantt.widget import GanttWidget

__all__ = ["GanttWidget"]
