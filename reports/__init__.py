"""Reports read a finished run's ``results.json`` and never touch the engine.

    results.json ──► render.write_report(run_dir) ──► html.render_report(results) ──► index.html
                                                          └── figures.scenario_figure(scenario) ──► PNG bytes

The page is self-contained (inline CSS, figures as data URIs) so it can be attached to a CI run or mailed.
"""
