"""Model zoo, training, evaluation, plots and HTML reports (host side, needs imuad[train]).

`zoo` builds models, `train` makes a run folder, `run.Run` loads one back,
`evaluate` holds the metric functions, `plots`/`report` render the results.
"""
