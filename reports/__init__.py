"""Reports read a finished run's ``results.json`` and never touch the engine.

    results.json ──► render.write_report(run_dir) ──► html.render_report(results) ──► index.html
                                                          └── figures.scenario_figure(scenario) ──► PNG bytes
    two results.json ──► render.write_comparison ──► compare.compare_runs ──► Comparison (regressed?)
                                                     compare_page.render_table / render_compare_page ──► compare.html
    results.json ──► summary.render_summary ──► the table ``harness run`` prints at the end
    bench.json ──► bench_table.render_table (the ``harness bench`` table) / bench.write_bench_page ──► index.html
    results.schema.json: the contract of results.json for every other reader (schema.schema_errors checks it)

Of the engine, reports import only ``scenarios.outcome`` (the closed set of outcomes results.json
carries); they never import ``bench``. The page is self-contained (inline CSS, figures as data URIs)
so it can be attached to a CI run or mailed.
"""
