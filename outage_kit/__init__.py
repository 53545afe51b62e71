"""outage_kit: models and lessons on how distributed services fail.

The package holds pure models (closed-form queueing, data loading) and thin layers
on top of them (charts, widgets, exercise checks). Heavy modules such as altair and
ipywidgets are imported only by the submodules that need them, so that
``import outage_kit`` stays fast.
"""

__version__ = "0.1.0"
