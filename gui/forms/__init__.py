"""Forms that edit a run configuration: pool, workload, and the two together with validation."""

from gui.forms.pool_form import PoolForm
from gui.forms.run_form import RunForm
from gui.forms.workload_form import WorkloadForm

__all__ = ["PoolForm", "RunForm", "WorkloadForm"]
