"""A trial of `hpo run` written as an unmodified MLflow script (run by tests/mlflow_client.rs).

Loss x²; logs a param, a tag, an artifact and a `val_loss` curve (x² + 10 at steps 0..4, so a
threshold pruner with upper 12 stops the trials with x² > 2). Exits non-zero if the run it gets
is not its trial's run or is not RUNNING after `end_run` (hpo ends it).
"""

import os
import sys
import time

import mlflow

x = float(sys.argv[1])
# read first: the client's start_run takes MLFLOW_RUN_ID out of the environment
RUN_ID = os.environ["MLFLOW_RUN_ID"]
with mlflow.start_run() as run:
    assert run.info.run_id == RUN_ID, run.info.run_id
    assert run.info.experiment_id == os.environ["MLFLOW_EXPERIMENT_ID"]
    mlflow.log_param("script_param", "from-mlflow")
    mlflow.set_tag("logged_by", "mlflow-client")
    with open("note.txt", "w") as f:
        f.write(f"x={x}\n")
    mlflow.log_artifact("note.txt")
    for step in range(5):
        mlflow.log_metric("val_loss", x * x + 10.0, step=step)
        time.sleep(0.1)
status = mlflow.MlflowClient().get_run(RUN_ID).info.status
assert status == "RUNNING", f"the client ended hpo's run: {status}"
print(x * x)
