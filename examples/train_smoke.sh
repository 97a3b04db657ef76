#!/usr/bin/env bash
# CPU smoke run of the whole RewardMap curriculum with the tiny model (well under a
# minute on a laptop): build a dataset, train all four stages, stop, resume, load the
# checkpoint back. The tiny model learns the answer formats in a short warm-up and then
# earns some reward; it checks the pipeline, it learns nothing about maps (README, "The smoke model").
#
#   bash examples/train_smoke.sh            # uses out/tokyo (built if missing)
#   DATA=out/mini bash examples/train_smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-out/tokyo}
RUN=${RUN:-runs/smoke}
if [ ! -d "$DATA" ]; then
    mapkit build --city "$(basename "$DATA")" --out "$DATA"
fi
rm -rf "$RUN"
# stages: (1) TorF1+TorF2 (2) Counting2+Counting3 (3) Counting1 (4) planning; 3 steps each with --model tiny
mapkit train --stages all --data "$DATA" --model tiny --out "$RUN" --max-steps 6   # "interrupted" half way
mapkit train --stages all --data "$DATA" --model tiny --out "$RUN" --resume        # continues at step 7
python - "$RUN" <<'PY'
import json, sys
from pathlib import Path
from mapkit.train.checkpoint import latest
from mapkit.train.models import load_checkpoint

run = Path(sys.argv[1])
rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
print("steps:", [r["step"] for r in rows])
print("stages:", [r["stage"] for r in rows])
model, processor = load_checkpoint(latest(run))
print("loaded", latest(run), type(model).__name__, sum(p.numel() for p in model.parameters()), "parameters")
PY
