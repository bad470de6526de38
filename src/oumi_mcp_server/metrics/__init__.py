"""Training metrics of a run, read from what Oumi writes: series, a summary, a PNG chart.

No MCP imports; file reads are bounded; matplotlib loads only when a chart is drawn.
``read_job_metrics`` (service.py) is the entry point the tool layer calls in a worker thread.
"""
