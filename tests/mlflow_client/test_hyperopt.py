"""hyperopt's fmin with a nested MLflow run per trial (the usual pattern) logging into `hpo server`."""

import json
import unittest

import mlflow
import numpy as np
from hyperopt import Trials, fmin, hp, tpe
from mlflow import MlflowClient

from test_tracking import hpo


class HyperoptIntoHpoServer(unittest.TestCase):
    def test_fmin_with_a_nested_run_per_trial(self):
        mlflow.set_experiment("hyperopt")

        def objective(params):
            with mlflow.start_run(nested=True):
                mlflow.log_params(params)
                loss = (params["x"] - 1.0) ** 2 + (0.5 if params["kind"] == "b" else 0.0)
                mlflow.log_metric("loss", loss)
                return loss

        space = {"x": hp.uniform("x", -3, 3), "kind": hp.choice("kind", ["a", "b"])}
        trials = Trials()
        with mlflow.start_run(run_name="hyperopt-search") as parent:
            best = fmin(objective, space, algo=tpe.suggest, max_evals=15, trials=trials,
                        rstate=np.random.default_rng(0), show_progressbar=False)
            mlflow.log_metric("best_loss", min(trials.losses()))
        client = MlflowClient()
        children = client.search_runs(
            [parent.info.experiment_id],
            f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
            order_by=["metrics.loss ASC"],
        )
        self.assertEqual(len(children), 15)
        self.assertAlmostEqual(children[0].data.metrics["loss"], min(trials.losses()))
        self.assertAlmostEqual(float(children[0].data.params["x"]), best["x"])
        listing = json.loads(hpo("runs", "list", "-e", "hyperopt", "--json", "--max-results", "50"))
        nested = [r for r in listing["runs"] if r["info"]["parent_run_id"] == parent.info.run_id]
        self.assertEqual(len(nested), 15)
        best_run = json.loads(hpo("best", "-e", "hyperopt", "--json"))
        self.assertEqual(best_run["info"]["run_id"], children[0].info.run_id)


if __name__ == "__main__":
    unittest.main()
