"""One self-contained HTML report per run (jinja2; figures embedded as base64 PNG)."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2

from .evaluate import fmt
from .plots import write_plots

TEMPLATE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>imuad run {{ name }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td.k{text-align:left;font-family:monospace}img{max-width:100%;margin:.4em 0}
code{background:#f3f3f3;padding:1px 3px}
</style></head><body>
<h1>Run {{ name }} — {{ c.arch }}{% if c.variant %} ({{ c.variant }}){% endif %}</h1>
<p>Recording <code>{{ c.recording }}</code> (sha256 {{ c.recording_sha256[:16] }}…), window {{ c.window }},
hop {{ c.hop }}, channels {{ c.channels|join(', ') }}, counts/unit {{ c.counts_per_unit }},
{% if c.sample_rate_hz %}sample rate {{ c.sample_rate_hz }} Hz{% else %}<b>sample rate unknown</b> (window and hop in
samples only){% endif %}, seed {{ c.seed }}.</p>
<p>Split {% if c.split %}<b>{{ c.split.mode }}</b> {{ c.split.fractions }}, window label rule <b>{{ c.split.label_rule }}</b>
{% if c.split.mode == 'stream' %}(anomalous iff an anomalous sample is in its newest {{ c.hop }} samples; gap
{{ c.split.gap_samples }} samples between blocks){% else %}(anomalous iff >= 50 % of its samples are){% endif %}
— {{ c.split.reason }}{% else %}per_run {{ c.fractions }} (time blocks per label run){% endif %}.</p>
{% for w in c.warnings or [] %}<p><b>Warning:</b> {{ w }}</p>{% endfor %}
<p>Score: {{ c.output_meaning }}; threshold <b>{{ '%.4g'|format(c.threshold) }}</b> chosen on the
<b>validation</b> split (max F1), applied unchanged to test.</p>
<h2>Metrics (anomaly class)</h2>
<table><tr><th>split</th><th>windows</th><th>anomalies</th><th>precision</th><th>recall</th><th>F1</th>
<th>ROC-AUC</th><th>PR-AUC</th><th>confusion [[tn, fp], [fn, tp]]</th></tr>
{% for split in ['val', 'test'] %}{% set m = c.metrics[split] %}
<tr><td class="k">{{ split }}</td><td>{{ m.n }}</td><td>{{ m.n_anomaly }}</td><td>{{ f(m.precision) }}</td>
<td>{{ f(m.recall) }}</td><td><b>{{ f(m.f1) }}</b></td><td>{{ f(m.roc_auc) }}</td><td>{{ f(m.pr_auc) }}</td>
<td>{{ m.confusion }}</td></tr>{% endfor %}</table>
<p>Model: {{ c.params }} parameters, {{ c.macs }} MACs per window; training {{ c.train_seconds }} s
({{ c.train_config.epochs_run }} epochs{% if c.train_config.best_epoch %}, best {{ c.train_config.best_epoch }}{% endif %}).</p>
{% for title, key in figures %}{% if key in images %}<h2>{{ title }}</h2>
<img alt="{{ key }}" src="data:image/png;base64,{{ images[key] }}">{% endif %}{% endfor %}
<h2>Configuration</h2><table>{% for k, v in c.train_config.items() %}
<tr><td class="k">{{ k }}</td><td class="k">{{ v }}</td></tr>{% endfor %}</table>
</body></html>
""")

FIGURES = [("Score over time", "score_over_time"), ("ROC and precision-recall", "roc_pr"),
           ("Confusion matrix (test)", "confusion_test"), ("Confusion matrix (val)", "confusion_val"),
           ("Training curves", "training_curves")]


def write_report(run_dir: str | Path) -> Path:
    """(Re)draw the plots and write run_dir/report.html; returns its path."""
    run_dir = Path(run_dir)
    config = json.loads((run_dir / "run.json").read_text())
    images = {k: base64.b64encode(p.read_bytes()).decode("ascii") for k, p in write_plots(run_dir).items()}
    html = TEMPLATE.render(name=run_dir.name, c=config, images=images, figures=FIGURES, f=fmt)
    out = run_dir / "report.html"
    out.write_text(html, encoding="utf-8")
    return out
