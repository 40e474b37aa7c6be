"""Forms that edit a run configuration: pool, workload, and the two together with validation."""

from procviz.gui.forms.pool_form import PoolForm
from procviz.gui.forms.run_form import RunForm
from procviz.gui.forms.workload_form import WorkloadForm

__all__ = ["PoolForm", "RunForm", "WorkloadForm"]
